"""bondlab.hf: the Hugging Face adapter, rewards and data-parallel J-BOND, on a tiny randomly initialised GPT-2
and a word-level tokenizer built here (nothing downloaded).

Oracles: the model's own forward pass on each unpadded row (log-probs), the model's softmax (sampling
frequencies), the recomputing sampler (the KV cache), the float64 EMA formula, the reward model's forward
on each text alone, the plain single-process trainer (train_jbond through the policy interface), a
one-process run (two processes, gloo, launched by `accelerate launch`), and an uninterrupted run (resume).
"""
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

transformers = pytest.importorskip("transformers")   # the optional extra: pip install 'bondlab[hf]'
pytest.importorskip("accelerate")
from scipy.stats import chisquare                                           # noqa: E402
from safetensors.torch import load_file                                     # noqa: E402
from tokenizers import Tokenizer, models, pre_tokenizers                    # noqa: E402

from bondlab.cli import main                                                # noqa: E402
from bondlab.hf import HFJBondConfig, HFPolicy, RewardModel, load_reward, load_state, text_reward, train_hf_jbond  # noqa: E402
from bondlab.lm.corpus import PROMPT_OPENINGS, review_tokenizer             # noqa: E402
from bondlab.lm.jbond import JBondConfig, train_jbond                       # noqa: E402
from helpers import EPS32, gpt_tol, sum_tol                                 # noqa: E402  (tests/helpers.py)

WORDS = review_tokenizer().words          # <pad>, <end>, <bos>, then the review words
PROMPTS = ["the food was", "service", "", "the staff is really not"]


def tiny_tokenizer():
    tk = Tokenizer(models.WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="<pad>"))
    tk.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return transformers.PreTrainedTokenizerFast(tokenizer_object=tk, pad_token="<pad>", eos_token="<end>",
                                                bos_token="<bos>")


def tiny_gpt2(seed=0, cls=None, **kw):
    torch.manual_seed(seed)
    cfg = transformers.GPT2Config(vocab_size=len(WORDS), n_positions=32, n_embd=16, n_layer=2, n_head=2,
                                  bos_token_id=2, eos_token_id=1, pad_token_id=0, **kw)
    return (cls or transformers.GPT2LMHeadModel)(cfg).eval()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("tiny_gpt2")
    tiny_gpt2().save_pretrained(d)
    tiny_tokenizer().save_pretrained(d)
    return d


def test_log_probs_equal_the_models_own_forward_on_each_unpadded_row():
    # The model in float64, so the padded batch and the lone row differ only by rounding that gpt_tol bounds
    # (tests/helpers.py); the adapter takes its log-softmax in float32 (logits.float()): per token a
    # log-sum-exp of V terms and a difference, then a sum of T terms (sum_tol, float32 eps).
    model, tok = tiny_gpt2(1).double(), tiny_tokenizer()
    pol = HFPolicy(model, tok, max_new_tokens=10)
    comp, mask = pol.sample(PROMPTS, torch.Generator().manual_seed(0))
    comp[0, 2] = pol.eos_id                    # one row ends early: what follows must not count
    logp, m = pol.token_log_probs(PROMPTS, comp)
    assert not m[0, 3:].any() and m[0, :3].all()
    for i, p in enumerate(PROMPTS):
        ids = [2] + tok(p)["input_ids"]
        y = comp[i][m[i]].tolist()
        with torch.no_grad():
            logits = model(torch.tensor([ids + y])).logits[0]
        lp = torch.log_softmax(logits, -1)                                                  # (L, V)
        want = sum(float(lp[len(ids) - 1 + t, tok_id]) for t, tok_id in enumerate(y))
        V, scale = logits.shape[-1], 1.0 + float(logits.abs().max())
        tol = gpt_tol(model.config, len(y), scale) + sum_tol(len(y) * (V + 2), scale, EPS32) + sum_tol(len(y), abs(want), EPS32)
        assert abs(float(pol.log_prob(PROMPTS, comp)[i].detach()) - want) <= tol
        assert torch.all(logp[i][~m[i]] == 0)
    # differentiable: a gradient reaches every parameter
    pol.log_prob(PROMPTS, comp).sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


def test_sampling_is_reproducible_masked_after_eos_and_the_kv_cache_changes_nothing():
    pol = HFPolicy(tiny_gpt2(2), tiny_tokenizer(), max_new_tokens=12)
    a, ma = pol.sample(PROMPTS * 10, torch.Generator().manual_seed(5))
    b, _ = pol.sample(PROMPTS * 10, torch.Generator().manual_seed(5))
    c, _ = pol.sample(PROMPTS * 10, torch.Generator().manual_seed(5), use_cache=False)
    d, _ = pol.sample(PROMPTS * 10, torch.Generator().manual_seed(6))
    assert torch.equal(a, b) and torch.equal(a, c) and not torch.equal(a, d)
    ended = (a == pol.eos_id)
    for row, mrow, e in zip(a, ma, ended):
        if e.any():
            first = int(e.nonzero()[0])
            assert mrow[:first + 1].all() and not mrow[first + 1:].any()
            assert torch.all(row[first + 1:] == pol.pad_id)
        else:
            assert mrow.all() and len(row) == pol.max_new_tokens
    assert ended.any() and (~ended.any(1)).any()      # both kinds of rows occur


def test_sampling_frequencies_match_the_models_softmax():
    """Full-softmax sampling at temperature 1 (what generate(do_sample=True, top_k=0, top_p=1) draws)."""
    model, tok = tiny_gpt2(3), tiny_tokenizer()
    pol = HFPolicy(model, tok, max_new_tokens=1)
    n = 6000
    y, _ = pol.sample(["the food was"] * n, torch.Generator().manual_seed(0))
    with torch.no_grad():
        p = torch.softmax(model(torch.tensor([[2] + tok("the food was")["input_ids"]])).logits[0, -1].double(), -1)
    counts = np.bincount(y[:, 0].numpy(), minlength=len(WORDS))
    assert chisquare(counts, p.numpy() * n).pvalue > 1e-3


def test_texts_anchor_and_ema():
    model, tok = tiny_gpt2(4), tiny_tokenizer()
    pol = HFPolicy(model, tok, max_new_tokens=6)
    comp = torch.tensor([[tok.convert_tokens_to_ids("great"), pol.eos_id, pol.pad_id]] * 2)
    assert pol.texts(["the food was", ""], comp) == ["the food was great", "great"]
    anchor = pol.anchor()
    assert all(not p.requires_grad for p in anchor.parameters()) and not anchor.model.training
    src = HFPolicy(tiny_gpt2(5), tok)
    pairs = [(pa.double(), ps.double()) for pa, ps in zip(anchor.parameters(), src.parameters())]
    anchor.ema_update_(src, 0.3)
    for got, (a, b) in zip(anchor.parameters(), pairs):
        # float32 EMA against the float64 formula: eta and 1 - eta, two products, a sum and the result each
        # round once in float32, within 3 eps32 (|a| + |b|) of the exact value
        assert torch.all((got.double() - (0.7 * a + 0.3 * b)).abs() <= 3 * EPS32 * (a.abs() + b.abs()))
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), tiny_gpt2(4).parameters()))  # policy untouched
    with pytest.raises(ValueError, match="eta"):
        anchor.ema_update_(src, 1.5)
    with pytest.raises(ValueError, match="max_new_tokens"):
        HFPolicy(model, tok, 0)
    with pytest.raises(ValueError, match="prompts"):
        pol.sample("one string", torch.Generator())
    with pytest.raises(ValueError, match="generator"):
        pol.sample(["x"], 123)


def test_reward_model_scores_equal_its_forward_on_each_text(tmp_path):
    tok = tiny_tokenizer()
    texts = ["the food was great", "awful", "the service is not good but the staff was nice", "bad", "great great"]
    for n_labels, label in ((1, None), (2, "POSITIVE")):
        kw = {"num_labels": n_labels}
        if n_labels == 2:
            kw.update(id2label={0: "NEGATIVE", 1: "POSITIVE"}, label2id={"NEGATIVE": 0, "POSITIVE": 1})
        clf = tiny_gpt2(7, transformers.GPT2ForSequenceClassification, **kw)
        d = tmp_path / f"rm{n_labels}"
        clf.save_pretrained(d)
        tok.save_pretrained(d)
        rm = RewardModel(d, label=label, batch_size=2)
        got = rm(texts)
        for t, g in zip(texts, got):
            ids = tok(t)["input_ids"] or [0]
            with torch.no_grad():
                lg = clf(torch.tensor([ids])).logits[0].double()
            want = lg[0] if n_labels == 1 else lg[1] - lg[0]      # two labels: the log-odds of POSITIVE
            # float32, batched with padding against alone: gpt_tol per logit, two logits for the log-odds
            assert abs(g - float(want)) <= 2 * gpt_tol(clf.config, 1, 1.0 + float(lg.abs().max()), EPS32)
    with pytest.raises(ValueError, match="label"):
        RewardModel(d, label="NEUTRAL")
    with pytest.raises(ValueError, match="folder"):
        RewardModel(tmp_path / "nowhere")
    vader = load_reward("vader")
    assert vader(["great", "awful"])[0] > 0 > vader(["great", "awful"])[1]
    pol = HFPolicy(tiny_gpt2(), tok)
    comp = torch.tensor([[pol.eos_id], [pol.eos_id]])
    with pytest.raises(ValueError, match="shape"):
        text_reward(pol, lambda ts: np.zeros(3))(["a", "b"], comp)
    with pytest.raises(ValueError, match="NaN"):
        text_reward(pol, lambda ts: np.full(len(ts), np.nan))(["a", "b"], comp)


CFG = dict(max_steps=4, batch_prompts=8, eval_every=2, eval_prompts=4, ref_samples=4, max_new_tokens=8,
           lr=1e-2, warmup=1, eta=0.1, gamma=0.5, checkpoint_every=1, seed=3)


def _cli(model_dir, out, **kw):
    args = {**CFG, **kw}
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in args.items()]
    return ["hf", "jbond", "--model", str(model_dir), "--reward", "vader", "--out", str(out), "--cpu", "--threads", "1",
            *flags]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _state(out):
    return load_file(str(Path(out) / "checkpoint.safetensors")), json.loads((Path(out) / "checkpoint.json").read_text())


def test_one_process_trainer_equals_the_plain_trainer(model_dir):
    """At one process the data-parallel trainer takes exactly train_jbond's steps (the shared J-BOND step)."""
    pol = HFPolicy.from_pretrained(model_dir, 8)
    cfg = {k: v for k, v in CFG.items() if k in JBondConfig.__dataclass_fields__}
    plain = train_jbond(pol, None, PROMPT_OPENINGS, text_reward(pol, load_reward("vader")),
                        JBondConfig(**{**cfg, "eval_every": 100}), progress=False)
    dp = train_hf_jbond(HFPolicy.from_pretrained(model_dir, 8), PROMPT_OPENINGS, load_reward("vader"),
                        HFJBondConfig(**CFG), progress=False)
    assert all(torch.equal(p, q) for p, q in zip(plain.policy.parameters(), dp.policy.parameters()))
    assert all(torch.equal(p, q) for p, q in zip(plain.anchor.parameters(), dp.anchor.parameters()))
    assert not all(torch.equal(p, q) for p, q in zip(pol.parameters(), dp.policy.parameters()))
    assert [h["step"] for h in dp.history] == [0, 2, 4] and dp.history[0]["kl"] == 0.0


def test_two_processes_match_one_and_resume_matches_no_interruption(model_dir, tmp_path):
    one, one_resumed, two = tmp_path / "one", tmp_path / "one_resumed", tmp_path / "two"
    assert main(_cli(model_dir, one)) == 0                                      # uninterrupted, 1 process
    assert main(_cli(model_dir, one_resumed, max_steps=2)) == 0                 # interrupted at step 2 ...
    assert main(_cli(model_dir, one_resumed)) == 0                              # ... and resumed to step 4
    env = {**os.environ, "OMP_NUM_THREADS": "1", "BONDLAB_SMOKE": "1"}
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
              "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
    for steps in (2, 4):                                                       # 2 processes, interrupted + resumed
        port = ["--main_process_port", str(_free_port()), "-m", "bondlab.cli"]  # a fresh port per launch
        res = subprocess.run(launch + port + _cli(model_dir, two, max_steps=steps), env=env, capture_output=True,
                             text=True, timeout=240)
        assert res.returncode == 0, res.stderr[-3000:]
    assert "on 2 process(es)" in res.stdout
    s1, i1 = _state(one)
    sr, ir = _state(one_resumed)
    s2, i2 = _state(two)
    # resume = no interruption: bit for bit, weights, anchor, Adam state and generator; and the same history
    assert s1.keys() == sr.keys() and all(torch.equal(s1[k], sr[k]) for k in s1)
    assert ir["history"] == i1["history"] and ir["step"] == i1["step"] == 4
    # two processes = one process over the same global batch, within float tolerance
    assert i2["num_processes"] == 2 and len(i2["fingerprints"]) == 2
    assert i2["fingerprints"][0] == i2["fingerprints"][1]                      # identical policy + anchor on both
    init = load_file(str(Path(model_dir) / "model.safetensors"))
    moved = max(float((s1[f"policy/{k}"] - v).abs().max()) for k, v in init.items() if f"policy/{k}" in s1)
    assert moved > 1e-2                                                        # training did move the weights
    for k in s1:
        if k.startswith(("policy/", "anchor/")):
            a, b = s1[k].double(), s2[k].double()
            if k.endswith("attn.c_attn.bias"):
                # the key bias gets an exactly-zero gradient (softmax ignores a shift of every score), so Adam
                # turns float noise into steps of size up to lr: compare the query and value parts only
                a, b = torch.cat([a[:16], a[32:]]), torch.cat([b[:16], b[32:]])
            torch.testing.assert_close(a, b, rtol=0, atol=2e-5, msg=k)
    for h1, h2 in zip(i1["history"], i2["history"], strict=True):
        for key in ("reward", "quantile", "kl", "length", "train_reward", "not_beaten", "loss", "grad_norm"):
            if h1.get(key) is not None:                        # strict JSON: the loss before step 1 is null
                assert h2[key] == pytest.approx(h1[key], rel=1e-4, abs=1e-6), (h1["step"], key)
    # the final model loads with transformers
    m = transformers.AutoModelForCausalLM.from_pretrained(one / "final")
    torch.testing.assert_close(m.transformer.wte.weight, s1["policy/transformer.wte.weight"])


def test_damaged_checkpoints_and_bad_input_get_clear_errors(model_dir, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(_cli(model_dir, out, max_steps=1, eval_every=1)) == 0
    weights = out / "checkpoint.safetensors"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="sha256"):
        load_state(out)
    assert main(_cli(model_dir, out, max_steps=2)) == 2                        # the CLI refuses to resume from it
    assert "sha256" in capsys.readouterr().err
    weights.write_bytes(bytes(data[:100]))
    with pytest.raises(ValueError, match="truncated"):
        load_state(out)
    (out / "checkpoint.json").unlink()
    with pytest.raises(ValueError, match="missing"):
        load_state(out)
    assert main(_cli(model_dir, tmp_path / "x", batch_prompts=1)) == 2         # LOO needs 2 prompts
    assert main(_cli(model_dir, tmp_path / "x", eval_every=0)) == 2
    assert main(["hf", "jbond", "--model", str(tmp_path / "nowhere"), "--reward", "vader", "--out", str(out)]) == 2
    assert main(_cli(model_dir, tmp_path / "x") + ["--prompts", str(tmp_path / "none.txt")]) == 2
    err = capsys.readouterr().err
    assert "--batch-prompts" in err and "--eval-every" in err and "nowhere" in err and "--prompts" in err


def test_bondlab_works_without_the_extra():
    """With transformers and accelerate unimportable, bondlab, its CLI and `import bondlab.hf` still work,
    and the rest of bondlab never imports bondlab.hf."""
    code = (
        "import sys; sys.modules['transformers'] = None; sys.modules['accelerate'] = None\n"
        "import bondlab, bondlab.lm, bondlab.lm.jbond, bondlab.lm.demo\n"
        "from bondlab.cli import build_parser, main\n"
        "build_parser()\n"
        "assert 'bondlab.hf' not in sys.modules, 'bondlab imported bondlab.hf'\n"
        "import bondlab.hf\n"
        "assert main(['hf', 'jbond', '--model', '.', '--reward', 'vader']) == 2\n"
        "try:\n"
        "    bondlab.hf.HFPolicy.from_pretrained('m')\n"
        "except ImportError as e:\n"
        "    assert 'bondlab[hf]' in str(e)\n"
        "else:\n"
        "    raise AssertionError('no ImportError')\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "bondlab[hf]" in res.stderr
