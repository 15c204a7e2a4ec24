"""Tokens/s of the review GPT's KV-cache sampler against full recomputation at each step, and against
Hugging Face ``transformers`` GPT-2 ``generate`` of the same size with random weights (only where
``transformers`` is installed; it is not a dependency). All timings are taken in this one run.

    python benchmarks/bench_sampling.py [--quick]

Last line: ``kv_speedup=<kv tokens/s / recompute tokens/s> hf_ratio=<kv tokens/s / HF tokens/s, or n/a>``
(above 1: ours is faster). The samplers run interleaved, rep by rep.
Every row samples ``max_new_tokens`` tokens (no early stop), so the work is the same for each sampler.
"""
from __future__ import annotations

import argparse
import time

import torch

from bondlab.lm.model import GPT
from bondlab.lm.pretrain import model_config


def tokens_per_s(fns: dict, tokens: int, reps: int) -> dict:
    """Best tokens/s of each sampler, the samplers interleaved rep by rep so that load on a shared
    machine hits them alike."""
    for fn in fns.values():
        fn()                                           # warm-up
    best = {k: float("inf") for k in fns}
    for _ in range(reps):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            best[k] = min(best[k], time.perf_counter() - t0)
    return {k: tokens / t for k, t in best.items()}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions, smaller batch")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1: stable ratios on a shared machine)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    batch, reps = (32, 2) if args.quick else (64, 5)
    cfg = model_config("reviews")
    torch.manual_seed(0)
    model = GPT(cfg).eval()
    prompts = torch.full((batch, 4), 5, dtype=torch.long)
    prompts[:, 0] = 2                                  # <bos> + 3 words
    T = cfg.block_size - prompts.shape[1] + 1          # as many new tokens as the positions allow
    print(f"model: {model.num_params():,} parameters, batch {batch}, {T} new tokens per row, "
          f"{torch.get_num_threads()} threads")

    def run(use_cache):
        return lambda: model.generate(prompts, T, torch.Generator().manual_seed(0), use_cache=use_cache,
                                      stop_at_end=False)

    fns = {"kv": run(True), "full": run(False)}
    try:
        import transformers  # optional
    except ImportError:
        print("transformers not installed: HF comparison skipped")
    else:
        transformers.logging.set_verbosity_error()
        hcfg = transformers.GPT2Config(vocab_size=cfg.vocab_size, n_positions=cfg.block_size, n_embd=cfg.n_embd,
                                       n_layer=cfg.n_layer, n_head=cfg.n_head, bos_token_id=2, eos_token_id=1,
                                       pad_token_id=0)
        hmodel = transformers.GPT2LMHeadModel(hcfg).eval()
        attn = torch.ones_like(prompts)

        def hf_run():
            with torch.no_grad():
                hmodel.generate(prompts, attention_mask=attn, do_sample=True, max_new_tokens=T, min_new_tokens=T,
                                top_k=0, pad_token_id=0)
        fns["hf"] = hf_run
    tps = tokens_per_s(fns, batch * T, reps)
    kv, full = tps["kv"], tps["full"]
    print(f"kv-cache sampler:      {kv:10.0f} tokens/s")
    print(f"full recomputation:    {full:10.0f} tokens/s")
    hf = "n/a"
    if "hf" in tps:
        print(f"HF GPT-2 generate:     {tps['hf']:10.0f} tokens/s")
        hf = f"{kv / tps['hf']:.2f}"
    print(f"kv_speedup={kv / full:.2f} hf_ratio={hf}")


if __name__ == "__main__":
    main()
