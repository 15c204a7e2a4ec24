"""bondlab.hf refusals: the cache API without deprecation warnings, float16 training, max_new_tokens past
the model's positions, a loss or weights gone non-finite, checkpoints whose tensors do not fit (or are
NaN) under a correct checksum, and a resume with other settings. Each refusal is a ValueError naming the
argument (or file and tensor), raised before the work, with nothing written."""
import functools
import hashlib
import json
import re
import warnings

import pytest
import torch

transformers = pytest.importorskip("transformers")   # the optional extra: pip install 'bondlab[hf]'
pytest.importorskip("accelerate")
from safetensors.torch import load_file, save_file                         # noqa: E402

from bondlab.cli import main                                                # noqa: E402
from bondlab.hf import HFJBondConfig, HFPolicy, load_reward, train_hf_jbond  # noqa: E402
from bondlab.checkpoint import RESUMABLE                                     # noqa: E402
from bondlab.lm import LMPolicy                                             # noqa: E402
from bondlab.lm.corpus import PROMPT_OPENINGS                               # noqa: E402
from bondlab.lm.jbond import JBondConfig, check_finite, train_jbond         # noqa: E402
from micro_helpers import TOK, micro_gpt, reward_fn                         # noqa: E402
from test_hf import CFG, PROMPTS, _cli, model_dir, tiny_gpt2, tiny_tokenizer  # noqa: E402,F401 (a fixture)


def test_sampling_uses_a_cache_object_and_warns_of_no_deprecation():
    model = tiny_gpt2(2)
    pol = HFPolicy(model, tiny_tokenizer(), max_new_tokens=6)
    seen = []
    forward = model.forward

    @functools.wraps(forward)                             # keeps the forward's signature (its cache kwarg)
    def spy(*a, **kw):
        seen.append({k: type(v) for k, v in kw.items() if k in ("cache", "past_key_values")})
        return forward(*a, **kw)
    model.forward = spy
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        warnings.simplefilter("error", DeprecationWarning)
        y, _ = pol.sample(PROMPTS, torch.Generator().manual_seed(0))
        pol.token_log_probs(PROMPTS, y)
    model.forward = forward
    assert len(seen) >= 2 and all(len(s) == 1 for s in seen[:-1])           # the sampler's calls
    assert all(issubclass(t, transformers.Cache) for s in seen[:-1] for t in s.values())
    assert seen[-1] == {}                                                    # teacher forcing: no cache


def test_max_new_tokens_past_the_positions_is_refused_before_work(model_dir, tmp_path):
    tok = tiny_tokenizer()
    longest = PROMPTS[3]                                   # 5 words + BOS = 6 tokens; the model has 32 positions
    assert len(tok(longest)["input_ids"]) + 1 == 6
    y, _ = HFPolicy(tiny_gpt2(), tok, 27).sample([longest] * 8, torch.Generator().manual_seed(0))   # 6 + 27 - 1 = 32
    assert y.shape[1] == 27                               # a row ran to the last position: it fits exactly
    with pytest.raises(ValueError, match=r"max_new_tokens \(28\).*32 positions.*at most 27"):
        HFPolicy(tiny_gpt2(), tok, 28).sample(PROMPTS, torch.Generator())
    with pytest.raises(ValueError, match=r"completions \(28\)"):
        HFPolicy(tiny_gpt2(), tok, 28).token_log_probs([longest], torch.ones(1, 28, dtype=torch.long))
    with pytest.raises(ValueError, match=r"max_new_tokens \(40\)"):
        train_hf_jbond(HFPolicy(tiny_gpt2(), tok, 40), PROMPTS, load_reward("vader"),
                       HFJBondConfig(**{**CFG, "max_new_tokens": 40}), out=tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()
    # the tiny GPT: LMPolicy refuses before sampling any group, train_jbond before any step
    ref = micro_gpt(0)                                     # block_size 8; a prompt is its BOS alone
    LMPolicy(ref, TOK, 8).sample([""], torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match=r"max_new_tokens \(9\).*block_size 8"):
        LMPolicy(ref, TOK, 9).sample([""], torch.Generator())
    with pytest.raises(ValueError, match=r"max_new_tokens \(9\).*block_size 8"):
        train_jbond(ref, TOK, [""], reward_fn, JBondConfig(max_new_tokens=9, max_steps=1), progress=False)


def test_float16_training_is_refused_naming_dtype(model_dir, tmp_path, capsys):
    pol = HFPolicy(tiny_gpt2().half(), tiny_tokenizer(), 8)
    with pytest.raises(ValueError, match="dtype float16.*Adam"):
        train_hf_jbond(pol, PROMPTS, load_reward("vader"), HFJBondConfig(**CFG), out=tmp_path / "run", progress=False)
    assert main(_cli(model_dir, tmp_path / "cli") + ["--dtype", "float16"]) == 2
    assert "dtype float16" in capsys.readouterr().err
    assert not (tmp_path / "run").exists() and not (tmp_path / "cli" / "checkpoint.json").exists()


def test_training_stops_when_the_loss_or_a_weight_is_non_finite(tmp_path):
    # a learning rate of 1e30 puts weights near 1e30 after one step: the next logits overflow (NaN)
    cfg = HFJBondConfig(**{**CFG, "lr": 1e30, "eval_every": 100})
    with pytest.raises(ValueError, match="diverged at step 2: the policy's log-probabilities hold NaN"):
        train_hf_jbond(HFPolicy(tiny_gpt2(), tiny_tokenizer(), 8), PROMPT_OPENINGS, load_reward("vader"), cfg,
                       out=tmp_path / "run", progress=False)
    with pytest.raises(ValueError, match="diverged at step 2"):
        train_jbond(micro_gpt(0), TOK, [""], reward_fn, JBondConfig(lr=1e30, max_new_tokens=6, max_steps=3,
                                                                      batch_prompts=8), progress=False)
    model = tiny_gpt2()
    check_finite(model, 7)                                 # finite: nothing raised
    with torch.no_grad():
        model.transformer.h[1].mlp.c_fc.weight[0, 3] = float("inf")
    with pytest.raises(ValueError, match=r"step 7: parameter transformer\.h\.1\.mlp\.c_fc\.weight"):
        check_finite(model, 7)


def _rewrite(out, mutate):
    """Apply ``mutate`` to the checkpoint's tensors and recompute size and sha256: only the damage is left."""
    weights, sidecar = out / "checkpoint.safetensors", out / "checkpoint.json"
    state = load_file(str(weights))
    mutate(state)
    save_file(state, str(weights))
    info = json.loads(sidecar.read_text())
    info["num_bytes"], info["sha256"] = weights.stat().st_size, hashlib.sha256(weights.read_bytes()).hexdigest()
    sidecar.write_text(json.dumps(info))


def _set(key, fn):
    def mutate(state):
        state[key] = fn(state[key].clone()).contiguous()
    return mutate


def _nan_at(t):
    t.view(-1)[5] = float("nan")
    return t


DAMAGE = [  # (tensor key, change, what the message names)
    ("policy/transformer.wte.weight", _nan_at, r"policy/transformer\.wte\.weight holds NaN"),
    ("anchor/transformer.h.0.attn.c_attn.weight", lambda t: t.fill_(float("inf")), r"anchor/.*c_attn\.weight holds NaN"),
    ("opt/exp_avg_sq/transformer.wpe.weight", _nan_at, r"opt/exp_avg_sq/transformer\.wpe\.weight holds NaN"),
    ("policy/transformer.wpe.weight", lambda t: t[:-1], r"policy/transformer\.wpe\.weight has shape \(31, 16\)"),
    ("anchor/transformer.ln_f.bias", lambda t: torch.cat([t, t]), r"anchor/transformer\.ln_f\.bias has shape \(32,\)"),
    ("opt/step/transformer.wpe.weight", lambda t: t.reshape(1), r"opt/step/transformer\.wpe\.weight has shape \(1,\)"),
    ("rng/train", lambda t: t[:-8], r"rng/train"),
]


def test_checkpoint_tensors_that_do_not_fit_or_are_not_finite_are_refused(model_dir, tmp_path, capsys):
    good = tmp_path / "good"
    assert main(_cli(model_dir, good, max_steps=1, eval_every=1)) == 0
    for i, (key, change, msg) in enumerate(DAMAGE):
        out = tmp_path / f"bad{i}"
        out.mkdir()
        for f in ("checkpoint.safetensors", "checkpoint.json"):
            (out / f).write_bytes((good / f).read_bytes())
        _rewrite(out, _set(key, change))
        before = (out / "checkpoint.safetensors").read_bytes()
        assert main(_cli(model_dir, out, max_steps=2, eval_every=1)) == 2, key
        err = capsys.readouterr().err
        assert "checkpoint.safetensors" in err and re.search(msg, err), err
        assert (out / "checkpoint.safetensors").read_bytes() == before      # nothing overwritten
        assert not (out / "final").exists()


def test_a_resume_with_other_settings_is_refused_naming_the_fields(model_dir, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(_cli(model_dir, out, max_steps=1, eval_every=1)) == 0
    before = (out / "checkpoint.safetensors").read_bytes()
    assert main(_cli(model_dir, out, max_steps=2, eval_every=1, lr=0.02, seed=4)) == 2
    err = capsys.readouterr().err
    assert "lr (checkpoint 0.01, now 0.02)" in err and "seed (checkpoint 3, now 4)" in err and "beta" not in err
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("the food was\n")
    assert main(_cli(model_dir, out, max_steps=2, eval_every=1) + ["--prompts", str(prompts)]) == 2
    assert "prompt_pool_sha256" in capsys.readouterr().err
    assert main(_cli(model_dir, out, max_steps=2, eval_every=1, dtype="bfloat16")) == 2
    assert "dtype (checkpoint 'float32', now 'bfloat16')" in capsys.readouterr().err
    assert (out / "checkpoint.safetensors").read_bytes() == before           # the refused runs wrote nothing
    # the fields of RESUMABLE may change: a longer run with other stop rules resumes
    assert set(RESUMABLE) == {"max_steps", "keep_going", "target_n", "kl_budget", "checkpoint_every"}
    assert main(_cli(model_dir, out, max_steps=2, eval_every=1, target_n=16, kl_budget=50, checkpoint_every=2)) == 0
    info = json.loads((out / "checkpoint.json").read_text())
    assert info["step"] == 2 and info["config"]["target_n"] == 16
    assert info["run"]["dtype"] == "float32" and len(info["run"]["prompt_pool_sha256"]) == 64
