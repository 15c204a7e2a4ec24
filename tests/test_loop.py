"""The one training loop, its stop rule, the anchor module and the Policy protocol, checked on their own."""
import math

import numpy as np
import pytest
import torch

from bondlab.anchor import AnchorRule, ema_, hard_reset_
from bondlab.configs import JBondConfig, ReinforceConfig, ToyJBondConfig
from bondlab.jbond import train_toy_jbond
from bondlab.loop import StopRule, run_loop
from bondlab.policies import GaussianPolicy, TabularPolicy
from bondlab.policy import Policy, check_policy
from bondlab.spaces import grid_mixture
from helpers import EPS64


def _counting_step(s):
    """A step whose record is a pure function of the step number."""
    return {"loss": float(s), "seen": s}


def test_eval_cadence_and_records():
    calls = []
    res = run_loop(_counting_step, max_steps=7, eval_every=3, progress=False,
                   evaluate=lambda s: calls.append(s) or {"quantile": 0.1, "kl": 0.0},
                   on_step=lambda s, rec: calls.append(("step", s, rec is not None)))
    assert [r["step"] for r in res.history] == [0, 3, 6, 7] and res.stop_reason == "max_steps" and res.steps == 7
    assert [c for c in calls if not isinstance(c, tuple)] == [0, 3, 6, 7]
    assert [c[2] for c in calls if isinstance(c, tuple)] == [False, False, True, False, False, True, True]
    assert math.isnan(res.history[0]["loss"]) and res.history[1]["loss"] == 3.0 and res.history[1]["seen"] == 3


@pytest.mark.parametrize("target_n, budget, want", [(3, None, ("target", 4)), (None, 0.5, ("kl_budget", 6)),
                                                    (3, 0.5, ("target", 4))])
def test_stop_rule_stops_at_the_first_evaluation_that_meets_it(target_n, budget, want):
    q = {s: s / 5 for s in range(0, 11)}                    # quantile 0.8 at step 4 (N = 3: 3/4 = 0.75)
    kl = {s: s / 10 for s in range(0, 11)}                  # KL 0.6 at step 6
    stop = StopRule.of(type("C", (), {"target_n": target_n, "kl_budget": budget})())
    res = run_loop(_counting_step, max_steps=10, eval_every=2, stop=stop, progress=False,
                   evaluate=lambda s: {"quantile": q[s], "kl": kl[s]})
    assert (res.stop_reason, res.steps) == want and res.history[-1]["step"] == want[1]


def test_keep_going_and_missing_metrics_never_stop():
    assert StopRule.of(JBondConfig(keep_going=True)) == StopRule()
    assert StopRule.of(JBondConfig(target_n=8)).target_q == pytest.approx(8 / 9)
    assert StopRule.of(ReinforceConfig()) == StopRule()       # REINFORCE: no target, no budget by default
    assert StopRule(0.5, 1.0)({"step": 3}) is None


def test_a_time_budget_stops_after_the_step_that_spends_it():
    res = run_loop(_counting_step, max_steps=50, eval_every=10, budget_s=1e-12, progress=False)
    assert res.stop_reason == "budget_s" and res.steps == 1 and [r["step"] for r in res.history] == [0, 1]


def test_resume_gives_the_uninterrupted_history():
    ev = (lambda s: {"quantile": 0.0, "kl": s * 0.01})
    full = run_loop(_counting_step, max_steps=9, eval_every=2, evaluate=ev, progress=False, record_wall=False)
    part = run_loop(_counting_step, max_steps=4, eval_every=2, evaluate=ev, progress=False, record_wall=False)
    rest = run_loop(_counting_step, max_steps=9, eval_every=2, evaluate=ev, progress=False, record_wall=False,
                    start=part.steps, history=list(part.history))
    strip = (lambda h: [{k: v for k, v in r.items() if k != "loss"} for r in h])
    assert strip(rest.history) == strip(full.history) and rest.steps == 9


def test_ema_matches_the_float64_formula_and_eta_one_copies():
    g = torch.Generator().manual_seed(0)
    a = [torch.randn(5, 3, generator=g, dtype=torch.float64), torch.randn(4, generator=g, dtype=torch.float64)]
    p = [torch.randn(5, 3, generator=g, dtype=torch.float64), torch.randn(4, generator=g, dtype=torch.float64)]
    old = [x.clone() for x in a]
    ema_(a, p, 0.3)
    for got, x, y in zip(a, old, p):
        # 1 - eta, two products, one sum: each rounds once, within 3 eps (|a| + |p|) of the exact value
        assert torch.all((got - (0.7 * x + 0.3 * y)).abs() <= 3 * EPS64 * (x.abs() + y.abs()))
    hard_reset_(a, p)
    assert all(torch.equal(x, y) for x, y in zip(a, p))
    with pytest.raises(ValueError, match="eta"):
        ema_(a, p, 1.5)


def test_hard_anchor_rule_moves_only_every_period():
    pol, anchor = TabularPolicy(np.full(4, 0.25)), TabularPolicy(np.full(4, 0.25))
    rule = AnchorRule("hard", 0.5, 3)
    moved = []
    for s in range(1, 8):
        with torch.no_grad():
            pol.logits.add_(0.1 * s)
        moved.append(rule.after_step(anchor, pol, s))
        assert torch.equal(anchor.logits, pol.logits) == moved[-1] or s % 3 != 0
    assert moved == [False, False, True, False, False, True, False]
    with pytest.raises(ValueError, match="anchor"):
        AnchorRule("soft")


def test_toy_jbond_with_a_hard_anchor_copies_the_policy_each_period():
    space = grid_mixture(k=21, weights=(0.6, 0.4), reward="linear")
    pol, h = train_toy_jbond(space, ToyJBondConfig(anchor="hard", hard_period=5, steps=10, gradient="exact"))
    # after step 10 the anchor is the policy: the last record's anchor was the one of steps 6-10 (copied at 5)
    assert h["kl_anchor"][4] > 0 and len(h["kl_anchor"]) == 10
    _, h_ema = train_toy_jbond(space, ToyJBondConfig(eta=0.0, steps=10, gradient="exact"))
    # eta = 0 is a frozen anchor: its KL to the anchor equals its KL to pi_ref at every step
    np.testing.assert_allclose(h_ema["kl_anchor"], h_ema["kl_ref"], rtol=1e-10, atol=1e-14)
    assert h["kl_anchor"][5] < h_ema["kl_anchor"][5]          # the hard reset at step 5 moved the anchor


def test_every_scale_satisfies_the_policy_protocol():
    from bondlab.lm import LMPolicy, load_pretrained
    model, tok = load_pretrained("micro")
    for p in (TabularPolicy(np.full(3, 1 / 3)), GaussianPolicy(np.arange(3.0), np.full(3, 1 / 3)), LMPolicy(model, tok)):
        assert isinstance(p, Policy) and check_policy(p) is p
        a = p.anchor()
        assert isinstance(a, Policy) and not any(q.requires_grad for q in a.parameters())
    with pytest.raises(ValueError, match="lacks"):
        check_policy(object())


def test_a_toy_policy_takes_prompts_as_one_draw_each():
    pol = TabularPolicy(np.array([0.1, 0.2, 0.7]))
    a = pol.sample(["", "", ""], torch.Generator().manual_seed(1))
    b = pol.sample(3, torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and torch.equal(pol.log_prob(["", "", ""], a), pol.log_prob(a))
