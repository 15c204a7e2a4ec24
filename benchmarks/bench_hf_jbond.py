"""Where does a J-BOND step on a Hugging Face causal LM spend its time? (needs ``bondlab[hf]``)

    python benchmarks/bench_hf_jbond.py            # a GPT-2-shaped random model, 6 layers x 384 wide
    python benchmarks/bench_hf_jbond.py --quick    # smaller and shorter

A randomly initialised GPT-2 (nothing downloaded) with a word-level tokenizer; per prompt J-BOND draws
three completions (y ~ pi, y'1 and y'2 ~ pi_anchor), scores them, then runs one teacher-forced pass over
y and the better anchor sample with backward. Printed, measured in one run:

1. the share of a step's time spent sampling (the three generations), scoring the anchor's log pi_anchor(y),
   and in the loss's forward + backward;
2. KV-cache sampling (``HFPolicy.sample``) against recomputing the prefix at every token (``use_cache=False``),
   the same tokens both ways.
"""
from __future__ import annotations

import argparse
import time

import torch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    from bondlab.hf import HFPolicy, load_reward, text_reward
    from bondlab.lm.corpus import PROMPT_OPENINGS, review_tokenizer
    from bondlab.lm.jbond import jbond_batch, jbond_batch_loss

    words = review_tokenizer().words
    tk = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<pad>"))
    tk.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, pad_token="<pad>", eos_token="<end>", bos_token="<bos>")
    layers, width, B, T, reps = (2, 128, 8, 16, 2) if args.quick else (6, 384, 16, 48, 3)
    torch.manual_seed(0)
    cfg = GPT2Config(vocab_size=len(words), n_positions=128, n_embd=width, n_layer=layers, n_head=width // 64,
                     bos_token_id=2, eos_token_id=1, pad_token_id=0)
    model = GPT2LMHeadModel(cfg).eval()
    pol = HFPolicy(model, tok, T)
    anchor = pol.anchor()
    reward = text_reward(pol, load_reward("vader"))
    prompts = [PROMPT_OPENINGS[i % len(PROMPT_OPENINGS)] for i in range(B)]
    print(f"GPT-2 shape: {layers} layers x {width}, {sum(p.numel() for p in model.parameters()) / 1e6:.1f}M "
          f"params; {B} prompts x {T} new tokens; {args.threads} thread(s)")

    t = {"sample": 0.0, "score": 0.0, "loss": 0.0}
    for r in range(reps + 1):
        g = torch.Generator().manual_seed(r)
        t0 = time.perf_counter()
        y, _ = pol.sample(prompts, g)
        ya, _ = anchor.sample(prompts * 2, g)
        t1 = time.perf_counter()
        with torch.no_grad():
            anchor.log_prob(prompts, y)
        t2 = time.perf_counter()
        batch = jbond_batch(pol, anchor, prompts, reward, g)     # (re-sampled: the loss needs a batch)
        t3 = time.perf_counter()
        loss = jbond_batch_loss(pol, batch, 0.5, 0.0)
        loss.backward()
        model.zero_grad(set_to_none=True)
        t4 = time.perf_counter()
        if r:                                                    # the first round warms up
            t["sample"] += t1 - t0
            t["score"] += t2 - t1
            t["loss"] += t4 - t3
    total = sum(t.values())
    print("share of a J-BOND step:  " + "   ".join(f"{k} {v / total:5.1%}" for k, v in t.items()))

    tc = tn = 0.0
    for r in range(reps):
        g1, g2 = torch.Generator().manual_seed(10 + r), torch.Generator().manual_seed(10 + r)
        t0 = time.perf_counter()
        a, _ = pol.sample(prompts, g1)
        t1 = time.perf_counter()
        b, _ = pol.sample(prompts, g2, use_cache=False)
        t2 = time.perf_counter()
        assert torch.equal(a, b)
        tc, tn = tc + t1 - t0, tn + t2 - t1
    print(f"sampling {T} tokens: recompute / KV cache = {tn / tc:.2f}x (same tokens)")


if __name__ == "__main__":
    main()
