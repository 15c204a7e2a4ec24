"""Training loops: convergence to pi_BoN, mode seeking vs covering, iterative BOND = Best-of-n^M, J-BOND gamma."""
import numpy as np
import pytest

import bondlab as B
from bondlab.jbond import IterativeConfig, ToyJBondConfig, train_iterative, train_toy_jbond
from bondlab.objectives import rlhf_optimal_probs
from bondlab.train import METRICS, BondConfig, ToyReinforceConfig, metrics, train_bond, train_toy_reinforce

SPACE = B.grid_mixture(k=61, weights=(0.5, 0.5), means=(-0.5, 0.5), scales=(0.15, 0.15), reward="two_peaks")


@pytest.mark.parametrize("objective", ["forward", "backward", "jeffreys"])
def test_tabular_converges_to_bon_exact(objective):
    pol, h = train_bond(SPACE, BondConfig(objective=objective, n=4, steps=600, lr=0.1))
    target = B.bon_probs(SPACE.ref_probs, SPACE.rewards, 4)
    assert B.kl(target, pol.probs_np()) < 1e-3 and B.kl(pol.probs_np(), target) < 1e-3
    assert set(METRICS) <= set(h) and all(len(h[m]) == 600 for m in METRICS)
    assert h["fwd_kl"][-1] == pytest.approx(B.kl(target, pol.probs_np()), abs=1e-12)   # history = recomputation


def test_sampled_bond_gets_close_and_is_reproducible():
    cfg = BondConfig(objective="jeffreys", gradient="sampled", quantile="mc", n=4, steps=300, k=16)
    pol, h = train_bond(SPACE, cfg)
    assert h["fwd_kl"][-1] < 0.05 < h["fwd_kl"][0]
    _, h2 = train_bond(SPACE, cfg)
    assert h2 == h
    _, h3 = train_bond(SPACE, BondConfig(objective="backward", gradient="sampled", quantile="learned", n=4, steps=200))
    assert h3["bwd_kl"][-1] < 0.5 * h3["bwd_kl"][0]


def test_restricted_family_backward_fit_has_lower_entropy_than_forward():
    target = B.bon_probs(SPACE.ref_probs, SPACE.rewards, 4)
    assert target[SPACE.x < 0].sum() > 0.3                     # bimodal target
    fits = {o: train_bond(SPACE, BondConfig(objective=o, family="gaussian", steps=400))[0].probs_np()
            for o in ("forward", "backward")}
    assert B.entropy(fits["backward"]) < B.entropy(fits["forward"]) - 0.5
    assert fits["forward"][SPACE.x < 0].sum() > 0.2             # covers both modes
    assert min(fits["backward"][SPACE.x < 0].sum(), fits["backward"][SPACE.x > 0].sum()) < 0.05   # picks one


@pytest.mark.parametrize("objective", ["forward", "backward"])
def test_iterative_hard_anchor_tracks_bon_n_to_the_m(objective):
    pol, h = train_iterative(SPACE, IterativeConfig(n=2, rounds=3, period=300, objective=objective))
    assert h["bon_equivalent_n"] == [2.0, 4.0, 8.0]
    target = B.bon_probs(SPACE.ref_probs, SPACE.rewards, 8)
    assert B.kl(target, pol.probs_np()) < 5e-3 and B.kl(pol.probs_np(), target) < 5e-3
    q8 = B.bon_expected_quantile(SPACE.ref_probs, SPACE.rewards, 8)
    assert h["quantile"][-1] == pytest.approx(q8, abs=5e-3)


def test_iterative_ema_raises_the_quantile():
    _, h = train_iterative(SPACE, IterativeConfig(n=2, rounds=2, period=150, eta=0.05))
    assert h["bon_equivalent_n"] == [] and h["quantile"][-1] > h["quantile"][0] + 0.1
    assert np.all(np.diff(h["kl_ref"][50:]) > -1e-3)


@pytest.mark.parametrize("gradient", ["exact", "sampled"])
def test_jbond_larger_gamma_stays_closer_to_the_anchor(gradient):
    early = []
    for gamma in (0.0, 0.5, 1.0, 2.0):
        _, h = train_toy_jbond(SPACE, ToyJBondConfig(gamma=gamma, gradient=gradient, steps=100, lr=0.05))
        early.append(np.mean(h["kl_anchor"]))
        assert h["quantile"][-1] > h["quantile"][0]
    assert all(a > b for a, b in zip(early, early[1:])), early


def test_jbond_v1_sign_moves_away_from_the_anchor():
    kw = dict(gamma=1.0, gradient="exact", steps=150, lr=0.05)
    _, good = train_toy_jbond(SPACE, ToyJBondConfig(**kw))
    _, v1 = train_toy_jbond(SPACE, ToyJBondConfig(v1_sign=True, **kw))
    assert np.mean(v1["kl_anchor"]) > 1.5 * np.mean(good["kl_anchor"])


def test_reinforce_reaches_the_rlhf_optimum():
    opt = rlhf_optimal_probs(SPACE.ref_probs, SPACE.rewards, 0.2)
    pol, h = train_toy_reinforce(SPACE, ToyReinforceConfig(beta_rl=0.2, gradient="exact", steps=600))
    assert B.kl(opt, pol.probs_np()) < 1e-3 and h["fwd_kl"][-1] < 1e-3
    pol, h = train_toy_reinforce(SPACE, ToyReinforceConfig(beta_rl=0.2, steps=400))
    assert B.kl(opt, pol.probs_np()) < 0.05


def test_metrics_against_direct_formulas(rng):
    pi = rng.dirichlet(np.ones(SPACE.x.size))
    tgt = B.bon_probs(SPACE.ref_probs, SPACE.rewards, 3)
    m = metrics(pi, tgt, SPACE, beta=0.3)
    _, p_le = B.quantiles(SPACE.ref_probs, SPACE.rewards)
    assert m["jeffreys"] == pytest.approx(B.jeffreys(pi, tgt, 0.3))
    assert m["quantile"] == pytest.approx(sum(pi[i] * p_le[i] for i in range(pi.size)))
    assert m["entropy"] == pytest.approx(-np.sum(pi * np.log(pi)))


def test_bad_config_raises():
    with pytest.raises(ValueError, match="objective"):
        train_bond(SPACE, BondConfig(objective="sideways", steps=1))
    with pytest.raises(ValueError, match="family"):
        train_bond(SPACE, BondConfig(family="mlp", steps=1))
    with pytest.raises(ValueError, match="n"):
        train_bond(SPACE, BondConfig(gradient="sampled", n=2.5, steps=1))
    with pytest.raises(ValueError, match="eta"):
        train_toy_jbond(SPACE, ToyJBondConfig(eta=2.0, steps=1))
    with pytest.raises(ValueError, match="steps"):
        train_toy_reinforce(SPACE, ToyReinforceConfig(steps=0))
    with pytest.raises(ValueError, match="space"):
        train_bond(SPACE.ref_probs, BondConfig(steps=1))


def test_gaussian_fit_to_a_far_target_stays_finite_in_log_space():
    # At n = 1e4 pi_BoN underflows to 0 far from the top; in log space the fit and its KLs stay finite.
    import bondlab as bl
    from bondlab.spaces import Space, grid_mixture
    from bondlab.train import BondConfig, train_bond
    sp = grid_mixture(201, reward="bump")
    on = Space(sp.x, sp.ref_probs, sp.x.copy())
    pol, h = train_bond(on, BondConfig(objective="jeffreys", n=1e4, family="gaussian", gradient="exact", steps=60, lr=0.05))
    log_pi = pol.log_probs().detach().numpy()
    log_t = bl.bon_log_probs(on.ref_probs, on.rewards, 1e4)
    assert np.isfinite(h["bwd_kl"][-1]) and np.isfinite(h["fwd_kl"][-1])
    assert h["bwd_kl"][-1] == pytest.approx(bl.kl_log(log_pi, log_t), rel=1e-9)
    assert h["fwd_kl"][-1] == pytest.approx(bl.kl_log(log_t, log_pi), rel=1e-9)
