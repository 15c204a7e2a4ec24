"""Hostile inputs to the public API: each call either raises ValueError / TypeError naming the argument
that was spoiled, or returns a finite result (infinities only where a function documents them).

One argument of a valid call is replaced at a time by something wrong: wrong shapes, empty arrays,
NaN/inf, bools, tensors that require grad, numpy where torch is expected and back, wrong generator kinds
(RandomState, torch.Generator, an int), text, None. Every public name of bondlab/__init__.py is covered,
and the main functions of theory, divergences, quantile_estimates and objectives.
"""
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import bondlab as bl
from bondlab import divergences as D, objectives as O, quantile_estimates as Q, theory as T

P3, R3 = [0.2, 0.3, 0.5], [0.0, 1.0, 1.0]


def t64(x):
    return torch.tensor(x, dtype=torch.float64)


def logp(b=4):
    return torch.linspace(-2.0, -1.0, b, dtype=torch.float64, requires_grad=True)


def rng():
    return np.random.default_rng(0)


BON = dict(ref_probs=lambda: P3, rewards=lambda: R3, n=lambda: 3)
LOGK = lambda: torch.log(t64(P3))                                       # noqa: E731
# name -> (function, {argument: factory of a valid value}, documented infinities allowed in the result)
API = {
    "bon_probs": (bl.bon_probs, BON, False),
    "bon_log_probs": (bl.bon_log_probs, BON, True),
    "bon_levels": (bl.bon_levels, BON, True),
    "bon_terms": (bl.bon_terms, BON, False),
    "levels": (bl.levels, dict(ref_probs=lambda: P3, rewards=lambda: R3), False),
    "quantiles": (bl.quantiles, dict(ref_probs=lambda: P3, rewards=lambda: R3), False),
    "bon_kl": (bl.bon_kl, BON, False),
    "bon_win_rate": (bl.bon_win_rate, BON, False),
    "bon_expected_quantile": (bl.bon_expected_quantile, BON, False),
    "bon_expected_log_quantile": (bl.bon_expected_log_quantile, BON, False),
    "bon_expected_reward": (bl.bon_expected_reward, BON, False),
    "sample_bon": (bl.sample_bon, dict(BON, n=lambda: 2, size=lambda: 5, rng=rng), False),
    "sample_ref": (bl.sample_ref, dict(ref_probs=lambda: P3, size=lambda: 5, rng=rng), False),
    "bon_log_probs_torch": (bl.bon_log_probs_torch, dict(log_ref=LOGK, rewards=lambda: t64(R3), n=lambda: 3), True),
    "kl": (bl.kl, dict(p=lambda: P3, q=lambda: [0.3, 0.3, 0.4]), True),
    "kl_log": (bl.kl_log, dict(log_p=lambda: np.log(P3), log_q=lambda: np.log([0.3, 0.3, 0.4])), True),
    "jeffreys": (bl.jeffreys, dict(policy=lambda: P3, target=lambda: [0.3, 0.3, 0.4], beta=lambda: 0.5), True),
    "entropy": (bl.entropy, dict(p=lambda: P3), False),
    "tv": (bl.tv, dict(p=lambda: P3, q=lambda: [0.3, 0.3, 0.4]), False),
    "bon_kl_bound": (bl.bon_kl_bound, dict(n=lambda: 4), False),
    "continuous_expected_quantile": (T.continuous_expected_quantile, dict(n=lambda: 4), False),
    "continuous_expected_log_quantile": (T.continuous_expected_log_quantile, dict(n=lambda: 4), False),
    "continuous_quantile_pdf": (T.continuous_quantile_pdf, dict(u=lambda: [0.1, 0.9], n=lambda: 4), False),
    "gao_bon": (bl.gao_bon, dict(d=lambda: [0.0, 1.0], alpha=lambda: 1.0, beta=lambda: 0.1), False),
    "gao_rl": (bl.gao_rl, dict(d=lambda: [0.0, 1.0], alpha=lambda: 1.0, beta=lambda: 0.1), False),
    "Space": (bl.Space, dict(x=lambda: [0.0, 1.0, 2.0], ref_probs=lambda: P3, rewards=lambda: R3), False),
    "grid_mixture": (bl.grid_mixture, dict(k=lambda: 11, weights=lambda: (0.6, 0.4), means=lambda: (-0.4, 0.4),
                                           scales=lambda: (0.2, 0.15), reward=lambda: "linear"), False),
    "reward_shape": (bl.reward_shape, dict(x=lambda: [0.0, 0.5], kind=lambda: "bump"), False),
    "grad_forward_kl_logits": (D.grad_forward_kl_logits, dict(policy=lambda: P3, target=lambda: [0.3, 0.3, 0.4]), False),
    "grad_backward_kl_logits": (D.grad_backward_kl_logits, dict(policy=lambda: P3, target=lambda: [0.3, 0.3, 0.4]), False),
    "grad_jeffreys_logits": (D.grad_jeffreys_logits, dict(policy=lambda: P3, target=lambda: [0.3, 0.3, 0.4],
                                                          beta=lambda: 0.5), False),
    "mc_p_le": (Q.mc_p_le, dict(ref_probs=lambda: P3, rewards=lambda: R3, k=lambda: 4, rng=rng), False),
    "expected_power": (Q.expected_power, dict(p=lambda: [0.2, 0.7], k=lambda: 4, m=lambda: 3), False),
    "plug_in_bon_probs": (Q.plug_in_bon_probs, dict(ref_probs=lambda: P3, p_le_hat=lambda: [0.2, 1.0, 1.0],
                                                    n=lambda: 3), False),
    "plug_in_error": (Q.plug_in_error, dict(ref_probs=lambda: P3, rewards=lambda: R3, n=lambda: 3, k=lambda: 4,
                                            rng=rng, reps=lambda: 3), False),
    "loo_baseline": (O.loo_baseline, dict(values=lambda: t64([1.0, 2.0, 3.0])), False),
    "forward_bond_loss": (O.forward_bond_loss, dict(logp_best=logp), False),
    "backward_bond_loss": (O.backward_bond_loss, dict(logp=logp, logp_anchor=lambda: t64([-1.0] * 4),
                                                      log_p_le_hat=lambda: t64([-0.5] * 4), n=lambda: 4), False),
    "jeffreys_bond_loss": (O.jeffreys_bond_loss, dict(logp_best=logp, logp=logp, logp_anchor=lambda: t64([-1.0] * 4),
                                                      log_p_le_hat=lambda: t64([-0.5] * 4), n=lambda: 4,
                                                      beta=lambda: 0.5), False),
    "jbond_reward": (O.jbond_reward, dict(r=lambda: t64([0.0, 1.0]), r_anchor_1=lambda: t64([1.0, 0.0]),
                                          r_anchor_2=lambda: t64([0.5, 0.5])), False),
    "jbond_loss": (O.jbond_loss, dict(logp=logp, logp_anchor=lambda: t64([-1.0] * 4), r=lambda: t64([0.0, 1, 2, 3]),
                                      r_anchor_1=lambda: t64([1.0, 0, 1, 0]), r_anchor_2=lambda: t64([0.5] * 4),
                                      logp_best_anchor=logp, beta=lambda: 0.5, gamma=lambda: 0.1), False),
    "kl_regulariser_loss": (O.kl_regulariser_loss, dict(logp=logp, logp_anchor=lambda: t64([-1.0] * 4)), False),
    "reinforce_loss": (O.reinforce_loss, dict(logp=logp, logp_ref=lambda: t64([-1.0] * 4), r=lambda: t64([0.0, 1, 2, 3]),
                                              beta_rl=lambda: 0.1), False),
    "forward_kl_exact": (O.forward_kl_exact, dict(logp_all=lambda: LOGK().requires_grad_(True),
                                                  log_target=lambda: torch.log(t64([0.3, 0.3, 0.4]))), False),
    "backward_kl_exact": (O.backward_kl_exact, dict(logp_all=lambda: LOGK().requires_grad_(True),
                                                    log_target=lambda: torch.log(t64([0.3, 0.3, 0.4]))), True),
    "jeffreys_exact": (O.jeffreys_exact, dict(logp_all=lambda: LOGK().requires_grad_(True),
                                              log_target=lambda: torch.log(t64([0.3, 0.3, 0.4])), beta=lambda: 0.5), True),
    "jbond_objective_exact": (O.jbond_objective_exact, dict(logp_all=lambda: LOGK().requires_grad_(True),
                                                            logp_anchor_all=LOGK, rewards=lambda: t64(R3),
                                                            beta=lambda: 0.5, gamma=lambda: 0.1), False),
    "reinforce_objective_exact": (O.reinforce_objective_exact, dict(logp_all=lambda: LOGK().requires_grad_(True),
                                                                    logp_ref_all=LOGK, rewards=lambda: t64(R3),
                                                                    beta_rl=lambda: 0.1), False),
    "rlhf_optimal_probs": (O.rlhf_optimal_probs, dict(ref_probs=lambda: P3, rewards=lambda: R3, beta_rl=lambda: 0.5), False),
}
NO_ARGS = [bl.tie_example, bl.uniform_binary, bl.smoke_mode]


def fixed_bad():
    return [True, False, np.bool_(True), None, "abc", b"\x00", [], [[0.5, 0.5]], np.zeros((2, 2)), np.zeros((0,)),
            [np.nan, 1.0], [np.inf, 0.0], [0.5, -np.inf, 0.5], np.nan, np.inf, -np.inf, -1, 0, 0.5, 2, 1e308, -1e308,
            [True, False, True], [0.2, 0.3], [0.1, 0.2, 0.3, 0.4], 1j, [1j, 0, 0], {"a": 1}, [0.2, "x", 0.8],
            [[0.2], [0.3, 0.5]], np.random.RandomState(0), torch.Generator(), 42,
            torch.tensor([0.2, 0.3, 0.5], dtype=torch.float64, requires_grad=True),
            torch.tensor(3.0, requires_grad=True), torch.tensor([0.2, 0.3, 0.5]), torch.tensor([True, False, True]),
            torch.tensor([0, 1, 1]), torch.tensor([float("nan"), 0.0, 0.0], dtype=torch.float64),
            np.array([0.2, 0.3, 0.5]), np.log(np.array(P3)), torch.zeros(3, 2, dtype=torch.float64),
            torch.zeros(0, dtype=torch.float64), torch.tensor(1.0, dtype=torch.float64)]


BAD = st.one_of(
    st.integers(0, len(fixed_bad()) - 1).map(lambda i: fixed_bad()[i]),
    hnp.arrays(np.float64, hnp.array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=4),
               elements=st.floats(allow_nan=True, allow_infinity=True, width=64)),
    hnp.arrays(np.float64, st.just(3), elements=st.floats(-1e3, 1e3)).map(torch.from_numpy),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-10, 10**6),
)


def is_finite(out, allow_inf: bool) -> bool:
    """No NaN anywhere; +-inf only where documented (log 0, an infinite KL)."""
    if isinstance(out, (tuple, list)):
        return all(is_finite(o, allow_inf) for o in out)
    if isinstance(out, bl.Space):
        return is_finite((out.x, out.ref_probs, out.rewards), False)
    if isinstance(out, bl.bon.Levels):
        return is_finite((out.mass, out.below, out.above, out.reward), False)
    if isinstance(out, dict):
        return is_finite(list(out.values()), allow_inf)
    if isinstance(out, torch.Tensor):
        out = out.detach().numpy()
    arr = np.asarray(out, dtype=np.float64)
    return not np.isnan(arr).any() and (allow_inf or np.isfinite(arr).all())


def call(name, spoil=None, bad=None):
    fn, args, allow_inf = API[name]
    kw = {k: f() for k, f in args.items()}
    if spoil is not None:
        kw[spoil] = bad
    return fn(**kw), allow_inf


@pytest.mark.parametrize("name", sorted(API))
def test_valid_call_is_finite(name):
    out, allow_inf = call(name)
    assert is_finite(out, allow_inf)


def test_no_argument_builders():
    for fn in NO_ARGS:
        out = fn()
        assert is_finite(out, False) or isinstance(out, bool)


@settings(max_examples=600, deadline=None)
@given(name=st.sampled_from(sorted(API)), data=st.data())
def test_spoiled_argument_is_named_or_result_is_finite(name, data):
    spoil = data.draw(st.sampled_from(sorted(API[name][1])), label="argument")
    bad = data.draw(BAD, label="bad value")
    try:
        out, allow_inf = call(name, spoil, bad)
    except (ValueError, TypeError) as e:
        assert spoil in str(e), f"{name}({spoil}={bad!r}) raised {type(e).__name__} not naming {spoil}: {e}"
        return
    assert is_finite(out, allow_inf), f"{name}({spoil}={bad!r}) returned a non-finite result"


@pytest.mark.parametrize("flag", [True, False, np.bool_(True)])
def test_bools_are_not_numbers(flag):
    """n=True was taken as Best-of-1; every numeric check of bondlab._validate now refuses a bool."""
    from bondlab import _validate as V
    for check, name in ((V.n_real, "n"), (V.n_int, "n"), (lambda v, nm: V.positive_int(v, nm), "size"),
                        (V.unit_interval, "beta"), (lambda v, nm: V.scalar(v, nm), "gamma")):
        with pytest.raises(ValueError, match=name):
            check(flag, name)
    with pytest.raises(ValueError, match="n"):
        bl.bon_probs(P3, R3, flag)
    with pytest.raises(ValueError, match="ref_probs"):
        bl.bon_probs([flag, not flag], [0.0, 1.0], 2)
