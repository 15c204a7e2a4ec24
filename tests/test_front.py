"""bondlab.lm.front: the crossing interpolation against hand-computed values, the bootstrap's edge cases, the
budgeted loop's sample accounting and stop, and the exact micro view against an independent recomputation."""
import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from bondlab.lm.exact import exact_bon_log_probs, exact_kl, micro_space
from bondlab.lm.front import kl_at_quantile, micro_exact_view, train_budgeted
from bondlab.lm.jbond import JBondConfig
from bondlab.lm.jbond_groups import VarianceOptions, samples_per_step
from bondlab.lm.reinforce import ReinforceConfig
from micro_helpers import TOK, exact_log_probs, micro_gpt, reward_fn  # tests/micro_helpers.py


def hist(qs, kls, E=4):
    return [{"quantile": np.full(E, q), "kl": np.full(E, k), "samples": 100 * i} for i, (q, k) in enumerate(zip(qs, kls))]


def test_crossing_is_linear_interpolation():
    h = hist([0.5, 0.7, 0.9, 0.95], [0.0, 1.0, 2.0, 4.0])
    c = kl_at_quantile(h, 0.8)
    assert c["point"] == pytest.approx(1.5, abs=1e-12)          # halfway from (0.7, 1) to (0.9, 2)
    assert c["lo"] == pytest.approx(1.5, abs=1e-12) and c["hi"] == pytest.approx(1.5, abs=1e-12)   # no spread
    assert kl_at_quantile(h, 0.8, key="samples")["point"] == pytest.approx(150, abs=1e-9)
    assert kl_at_quantile(h, 0.4)["point"] == 0.0                # already past at step 0
    never = kl_at_quantile(h, 0.99)
    assert math.isnan(never["point"]) and never["crossed"] == 0.0


def test_crossing_takes_the_first_pass_and_bootstraps_over_prompts():
    h = hist([0.5, 0.85, 0.7, 0.9], [0.0, 1.0, 2.0, 3.0])
    assert kl_at_quantile(h, 0.8)["point"] == pytest.approx(1.0 * 0.3 / 0.35, abs=1e-12)
    # two kinds of prompts: the interval must cover the point and lie inside the per-prompt extremes
    g = np.random.default_rng(0)
    rows = [{"quantile": np.clip(q + 0.1 * g.standard_normal(64), 0, 1), "kl": k + 0.5 * g.standard_normal(64)}
            for q, k in zip([0.5, 0.7, 0.9], [0.0, 1.0, 2.0])]
    c = kl_at_quantile(rows, 0.8)
    assert c["lo"] <= c["point"] <= c["hi"] and c["hi"] - c["lo"] > 0


@pytest.mark.parametrize("kind,cfg,opts", [
    ("jbond", JBondConfig(batch_prompts=4, max_new_tokens=6, eval_every=2, warmup=1), VarianceOptions(2, "exact", "all")),
    ("reinforce", ReinforceConfig(batch_prompts=4, max_new_tokens=6, eval_every=2, warmup=1), VarianceOptions(2, "exact")),
])
def test_budget_counts_samples_and_stop_fires(kind, cfg, opts):
    ref = micro_gpt(0)
    per = samples_per_step(kind, 4, opts)
    assert per == (24 if kind == "jbond" else 8)
    calls = []
    ev = lambda m: (calls.append(1), {"quantile": np.zeros(2), "kl": np.zeros(2)})[1]   # noqa: E731
    res = train_budgeted(kind, ref, TOK, [""], reward_fn, cfg, opts, max_samples=5 * per + 3, evaluate=ev,
                         progress=False)
    assert res["steps"] == 5 and res["samples"] == 5 * per
    assert [h["step"] for h in res["history"]] == [0, 2, 4, 5] and len(calls) == 4
    assert any(not torch.equal(a, b) for a, b in zip(ref.parameters(), res["policy"].parameters()))
    stopped = train_budgeted(kind, ref, TOK, [""], reward_fn, cfg, opts, max_samples=50 * per, evaluate=ev,
                             stop=lambda rec: rec["step"] >= 4, progress=False)
    assert stopped["steps"] == 4


def test_micro_exact_view_matches_a_recomputation():
    ref = micro_gpt(2)
    cfg = JBondConfig(batch_prompts=8, lr=1e-3, seed=1, warmup=1)
    out = micro_exact_view(VarianceOptions(2, "exact", "all"), cfg, rounds=1, period=3, model=ref, progress=False)
    # the same training, by hand, with the loop the view wraps
    res = train_budgeted("jbond", ref, TOK, [""], reward_fn,
                         replace(cfg, anchor="hard", hard_period=3, max_new_tokens=6, eval_every=10 ** 9),
                         VarianceOptions(2, "exact", "all"), max_samples=3 * 48, progress=False)
    log_ref = exact_log_probs(ref)
    target = exact_bon_log_probs(log_ref, micro_space().rewards, 2)
    want = float(exact_kl(exact_log_probs(res["policy"]), target))
    assert out["n"] == 2 and out["samples"] == 3 * 48
    assert abs(out["kl_to_bon"] - want) <= 1e-12 * max(1.0, want)


def test_bad_kind():
    with pytest.raises(ValueError, match="kind"):
        train_budgeted("ppo", micro_gpt(0), TOK, [""], reward_fn, JBondConfig(), VarianceOptions(), max_samples=10)
