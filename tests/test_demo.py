"""``bondlab demo``: the smoke run writes every JSON key and the figures; same seed, same numbers; the exact
micro run agrees with the numpy Best-of-N core."""

import numpy as np
import pytest
import torch

from bondlab.cli import main
from bondlab.lm.corpus import review_tokenizer
from bondlab.lm.demo import BETA_RLS, BON_NS, METHOD_KEYS, DemoConfig, format_table, run_demo, run_exact
from bondlab.lm.jbond import JBondConfig
from bondlab.lm.model import GPT, GPTConfig
from bondlab.lm.reinforce import ReinforceConfig
from bondlab.lm.rewards import VaderReward
from bondlab.outputs import loads_strict
from bondlab.theory import bon_kl, bon_kl_bound

NAMES = ["ref"] + [f"bon_{n}" for n in BON_NS] + ["jbond"] + [f"reinforce_{b:g}" for b in BETA_RLS]


def test_demo_smoke_writes_every_key_and_the_figures(tmp_path, capsys):
    out, js = tmp_path / "figs", tmp_path / "demo.json"
    assert main(["demo", "--smoke", "--out", str(out), "--json", str(js)]) == 0
    data = loads_strict(js.read_text())
    assert set(data) >= {"config", "methods", "history"}
    assert set(NAMES) <= set(data["methods"])
    for name in NAMES:
        m = data["methods"][name]
        for key in METHOD_KEYS:
            assert isinstance(m[key], (int, float)) and np.isfinite(m[key]), (name, key)
        assert m["samples_per_prompt"] == (1 if not name.startswith("bon_") else int(name.split("_")[1]))
        assert -1.0 <= m["reward"] <= 1.0 and 0.0 <= m["quantile"] <= 1.0 and m["kl"] >= 0.0
        for key in ("reward", "quantile") + (("kl",) if name in ("jbond",) or name.startswith("reinforce") else ()):
            lo, hi = m[f"{key}_ci"]                              # 95% bootstrap interval over the report prompts
            assert lo <= hi, (name, key)
    # Best-of-N: nested candidates, so reward and quantile never fall as N grows; KL is the analytic bound
    bons = ["ref"] + [f"bon_{n}" for n in BON_NS]
    rewards = [data["methods"][b]["reward"] for b in bons]
    assert rewards == sorted(rewards)
    for n in BON_NS:
        assert data["methods"][f"bon_{n}"]["kl"] == pytest.approx(float(bon_kl_bound(n)))
    assert data["methods"]["ref"]["kl"] == 0.0
    for name in ["jbond"] + [f"reinforce_{b:g}" for b in BETA_RLS]:
        h = data["history"][name]
        assert len({len(v) for v in h.values()}) == 1 and h["step"][0] == 0
        assert h["kl"][0] == pytest.approx(0.0, abs=1e-5)     # evaluated at pi_ref: the exact per-token KL is 0
    j = data["methods"]["jbond"]
    assert j["kl_over_bound"] == pytest.approx(j["kl"] / float(bon_kl_bound(data["config"]["target_n"])))
    for f in ("reward_vs_kl.png", "training_curves.png"):
        assert (out / f).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data["front"]["kls"]) == len(data["front"]["best_of_n"])
    assert set(data["front"]["methods"]) == {"jbond"} | {f"reinforce_{b:g}" for b in BETA_RLS}
    printed = capsys.readouterr().out
    assert "bon_16" in printed and "J-BOND stop" in printed and "[95% CI]" in printed


def _tiny_demo(seed, **kw):
    tok = review_tokenizer()
    torch.manual_seed(0)
    ref = GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=16, n_layer=1, n_head=2, n_embd=16,
                        end_id=tok.end_id, pad_id=tok.pad_id, no_emit=(tok.pad_id, tok.bos_id)))
    cfg = DemoConfig.smoke_config(seed=seed, eval_prompts=12, ref_k=4, max_new_tokens=8, **kw,
                                  jbond=JBondConfig(max_steps=3, batch_prompts=4, eval_every=2),
                                  reinforce=ReinforceConfig(max_steps=3, batch_prompts=2, eval_every=2))
    return run_demo(cfg, ref=ref, tokenizer=tok, gold=VaderReward(), proxy=None, progress=False).data


def _numbers(data):
    strip = lambda d: {k: v for k, v in d.items() if k != "wall_s"}  # noqa: E731
    return ({k: strip(v) for k, v in data["methods"].items()}, {k: strip(v) for k, v in data["history"].items()})


def test_same_seed_same_numbers():
    a, b, c = _tiny_demo(3), _tiny_demo(3), _tiny_demo(4)
    assert _numbers(a) == _numbers(b)
    assert _numbers(a) != _numbers(c)
    assert "jbond" in format_table(a)


def test_keep_going_continues_past_the_stop():
    data = _tiny_demo(3, keep_going=True, keep_going_steps=3)
    j, k = data["history"]["jbond"], data["history"]["jbond_keep_going"]
    assert k["step"][0] == j["step"][-1] and k["step"][-1] == j["step"][-1] + 3
    assert k["kl"][0] == pytest.approx(j["kl"][-1])          # it starts from the stopped policy
    assert data["methods"]["jbond_keep_going"]["steps"] == data["methods"]["jbond"]["steps"] + 3


def test_exact_micro_run_agrees_with_the_numpy_core():
    ex = run_exact(DemoConfig.smoke_config(target_n=4), progress=False, period=3)
    from bondlab.lm import load_pretrained, micro_space
    from bondlab.bon import quantiles
    model, _ = load_pretrained("micro")
    space = micro_space()
    with torch.no_grad():
        lp = space.log_probs(model)
    p = torch.softmax(lp, 0).numpy()
    r = space.rewards.numpy()
    assert set(ex["kl_to_bon"]) == {"2", "4"} and ex["anchor_steps"] == [3, 6]
    for n in (2, 4):
        assert ex["bon_kl_exact"][str(n)] == pytest.approx(bon_kl(p, r, n), rel=1e-6)
        assert ex["kl_from_bon"][str(n)][0] == pytest.approx(ex["bon_kl_exact"][str(n)], rel=1e-6)
        assert ex["bon_kl_exact"][str(n)] <= bon_kl_bound(n)
    assert ex["kl_ref"][0] == pytest.approx(0.0, abs=1e-9)
    assert ex["quantile"][0] == pytest.approx(float(p @ quantiles(p, r)[1]), rel=1e-9)
    assert ex["step"] == sorted(ex["step"]) and ex["step"][-1] == 6


def test_bad_arguments_are_refused(capsys):
    with pytest.raises(ValueError, match="target_n"):
        DemoConfig(target_n=0)
    with pytest.raises(ValueError, match="budget"):
        DemoConfig(budget="hours")
    with pytest.raises(ValueError, match="target_n must be >= 2"):
        DemoConfig(target_n=1)                               # Best-of-1 is pi_ref: its KL bound 0 scales the report
    for bad in ("0.5", "1", "nan"):
        assert main(["demo", "--smoke", "--target-n", bad, "--out", "/tmp/x"]) == 2
        assert "argument --target-n" in capsys.readouterr().err
