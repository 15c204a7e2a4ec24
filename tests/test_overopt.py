"""Over-optimization curves: exact vs Monte Carlo, Gao fits vs known constants, best N, the quantile view."""
import numpy as np
import pytest

from bondlab.bon import bon_probs, sample_bon
from bondlab.divergences import kl
from bondlab.overopt import (BonCurve, OveroptConfig, beta_grid, best_n, best_n_from_fit, bon_curves, bond_curves, calibration, fit_gao,
                             kl_regularised, make_space, mean_plug_in_target, n_grid, policy_curves, quantile_view, rl_curves,
                             run_overopt, to_json)
from bondlab.proxy import ProxyConfig, fit_proxy, pairwise_accuracy
from bondlab.quantile_estimates import mc_p_le, plug_in_bon_probs
from bondlab.theory import bon_kl, gao_bon, gao_rl

GRID = n_grid(10_000, 25)


@pytest.fixture(scope="module")
def toy():
    cfg = OveroptConfig()
    sp = make_space(cfg)
    pr = fit_proxy(sp.x, sp.ref_probs, sp.rewards, cfg.proxy_config(), rng=np.random.default_rng(0))
    return sp, pr.rewards


def _gold_curve(sp, proxy, ns=GRID):
    return bon_curves(sp.ref_probs, sp.rewards, proxy, ns).gold


def test_n_grid_is_log_spaced_integers_from_1_to_n_max():
    ns = n_grid(10_000, 40)
    assert ns[0] == 1 and ns[-1] == 10_000 and np.all(np.diff(ns) > 0) and ns.size <= 40
    assert ns.dtype.kind == "i"


def test_exact_curves_match_the_exact_law(toy):
    sp, proxy = toy
    ns = np.array([1, 2, 7, 50, 1000])
    c = bon_curves(sp.ref_probs, sp.rewards, proxy, ns)
    for i, n in enumerate(ns):
        p = bon_probs(sp.ref_probs, proxy, n)
        assert c.gold[i] == pytest.approx(p @ sp.rewards, rel=1e-10, abs=1e-12)
        assert c.proxy[i] == pytest.approx(p @ proxy, rel=1e-10, abs=1e-12)
        assert c.kl[i] == pytest.approx(bon_kl(sp.ref_probs, proxy, n), rel=1e-9, abs=1e-12)
        assert c.kl[i] == pytest.approx(kl(p, sp.ref_probs), rel=1e-8, abs=1e-12)
    assert c.kl[0] == pytest.approx(0, abs=1e-12) and c.gold[0] == pytest.approx(sp.ref_probs @ sp.rewards)


def test_one_bon_curve_for_many_n_matches_the_exact_law_with_tied_proxy_levels(toy):
    """``BonCurve`` keeps the proxy's levels across N (bon_curves, best N, the panel): each N against the law
    of ``bon_probs``, on a proxy rounded into ties, in two orders (nothing carried from one N to the next)."""
    sp, proxy = toy
    tied = np.round(proxy / np.ptp(proxy), 1)                 # about 10 levels over 201 outcomes
    assert np.unique(tied).size < 20
    curve, ns = BonCurve(sp.ref_probs, sp.rewards, tied), [1, 3, 7.5, 50, 1000]
    got = [curve(n) for n in ns]
    assert [curve(n) for n in ns[::-1]] == got[::-1]
    for n, (k, g, r) in zip(ns, got):
        p = bon_probs(sp.ref_probs, tied, n)
        assert g == pytest.approx(p @ sp.rewards, rel=1e-10, abs=1e-12)
        assert r == pytest.approx(p @ tied, rel=1e-10, abs=1e-12)
        assert k == pytest.approx(kl(p, sp.ref_probs), rel=1e-8, abs=1e-12)


@pytest.mark.parametrize("n", [2, 8, 64])
def test_exact_curves_agree_with_monte_carlo_best_of_n(toy, n):
    sp, proxy = toy
    size = 60_000
    picks = sample_bon(sp.ref_probs, proxy, n, size, np.random.default_rng(n))
    c = bon_curves(sp.ref_probs, sp.rewards, proxy, [n])
    for vals, exact in ((sp.rewards[picks], c.gold[0]), (proxy[picks], c.proxy[0])):
        assert abs(vals.mean() - exact) < 5 * vals.std() / np.sqrt(size) + 1e-12
    # KL from the sampled frequencies (plug-in), which is biased up by about (support - 1) / (2 size)
    freq = np.bincount(picks, minlength=sp.x.size) / size
    live = freq > 0
    kl_mc = float(np.sum(freq[live] * np.log(freq[live] / sp.ref_probs[live])))
    assert abs(kl_mc - c.kl[0]) < 0.02 + live.sum() / size


def test_kl_regularised_is_the_optimum(toy, rng):
    """E[r] - beta KL(pi || pi_ref) at pi_beta equals beta log Z, and no other policy does better."""
    sp, proxy = toy
    for beta in (0.05, 0.5, 5.0):
        pi = kl_regularised(sp.ref_probs, proxy, beta)
        value = pi @ proxy - beta * kl(pi, sp.ref_probs)
        log_z = np.log(np.sum(sp.ref_probs * np.exp((proxy - proxy.max()) / beta))) + proxy.max() / beta
        assert value == pytest.approx(beta * log_z, rel=1e-9)
        for _ in range(20):
            q = pi * np.exp(0.3 * rng.normal(size=pi.size))
            q /= q.sum()
            assert q @ proxy - beta * kl(q, sp.ref_probs) <= value + 1e-12
    betas = beta_grid(proxy, 1e-3, 1e2, 12, sp.ref_probs)
    c = rl_curves(sp.ref_probs, sp.rewards, proxy, betas)
    assert np.all(np.diff(c.kl) > -1e-12) and np.all(np.diff(c.proxy) > -1e-12)   # smaller beta, more KL
    i = 5
    pi = kl_regularised(sp.ref_probs, proxy, betas[i])
    assert c.gold[i] == pytest.approx(pi @ sp.rewards) and c.kl[i] == pytest.approx(kl(pi, sp.ref_probs))


@pytest.mark.parametrize("form, fn, alpha, beta", [("bon", gao_bon, 0.8, 0.3), ("rl", gao_rl, 0.5, 0.25)])
def test_fit_recovers_known_constants(form, fn, alpha, beta, rng):
    d = np.linspace(0.05, 3.0, 60)
    gain = fn(d, alpha, beta) + 0.005 * rng.normal(size=d.size)
    f = fit_gao(d, gain, form)
    assert f.alpha == pytest.approx(alpha, abs=0.01) and f.beta == pytest.approx(beta, abs=0.01)
    assert f.rmse < 0.01
    exact = fit_gao(d, fn(d, alpha, beta), form)        # noiseless: exact to solver precision
    assert exact.alpha == pytest.approx(alpha, rel=1e-6) and exact.beta == pytest.approx(beta, rel=1e-6)
    d_star = alpha / (2 * beta) if form == "bon" else np.exp(alpha / beta - 1)
    assert exact.d_star == pytest.approx(d_star, rel=1e-6)
    dd = np.linspace(0.01, 5, 20001)
    assert dd[np.argmax(fn(dd, alpha, beta))] == pytest.approx(d_star, abs=1e-3)


def test_best_n_from_fit_picks_the_n_whose_d_is_nearest_the_fitted_peak(toy):
    sp, proxy = toy
    d = np.sqrt(bon_curves(sp.ref_probs, sp.rewards, proxy, np.arange(1, 201)).kl)
    target = d[39]                                            # the d of N = 40
    f = fit_gao(np.array([1.0, 2.0]), gao_bon(np.array([1.0, 2.0]), 2 * target, 1.0), "bon")
    assert f.d_star == pytest.approx(target)
    assert best_n_from_fit(f, sp.ref_probs, proxy, n_grid(200, 20)) == 40


def test_best_n_refined_equals_brute_force_over_every_integer(toy):
    sp, proxy = toy
    ns = np.arange(1, 301)
    brute = int(ns[np.argmax([bon_probs(sp.ref_probs, proxy, n) @ sp.rewards for n in ns])])
    assert best_n(sp.ref_probs, sp.rewards, proxy, n_grid(300, 12)) == brute
    assert 1 < brute < 300


@pytest.mark.parametrize("features, capacity", [("poly", 10), ("onehot", 1)])
def test_many_clean_labels_full_capacity_no_overoptimization(features, capacity):
    """With a proxy that can represent the gold reward and 20k clean labels, the proxy's best N is the largest
    N, and the gold reward ends (N = 10^4) within 1% of its range of its best: nothing to over-optimise."""
    sp = make_space(OveroptConfig())
    pr = fit_proxy(sp.x, sp.ref_probs, sp.rewards, ProxyConfig(m=20_000, noise=0.0, features=features,
                                                               capacity=capacity), rng=np.random.default_rng(1))
    c = bon_curves(sp.ref_probs, sp.rewards, pr.rewards, GRID)
    scale = c.proxy.max() - c.proxy[0]
    assert c.proxy[-1] >= c.proxy.max() - 1e-12 * scale           # largest N is the proxy's best (float ties)
    assert np.all(np.diff(c.proxy) >= -1e-12 * scale)
    span = c.gold.max() - c.gold[0]
    assert c.gold.max() - c.gold[-1] < 0.01 * span
    assert c.gold[-1] > 0.99 * sp.rewards.max()


def test_few_noisy_labels_gold_peaks_at_an_interior_n():
    """m = 30 comparisons, 30% flipped: over 40 seeds, whenever the proxy ranks pi_ref's pairs better than
    chance, the gold reward of Best-of-N peaks strictly between N = 1 and N = 10^4 (linear proxy), and most
    seeds beat chance; with a quadratic proxy most seeds still peak inside."""
    sp = make_space(OveroptConfig())
    beats, interior_lin, interior_quad = 0, 0, 0
    seeds = range(40)
    for seed in seeds:
        for capacity in (1, 2):
            pr = fit_proxy(sp.x, sp.ref_probs, sp.rewards, ProxyConfig(m=30, noise=0.3, capacity=capacity),
                           rng=np.random.default_rng(seed))
            gold = _gold_curve(sp, pr.rewards)
            i = int(np.argmax(gold))
            inside = 0 < i < GRID.size - 1
            if capacity == 1:
                inside = inside and gold[i] > max(gold[0], gold[-1]) + 0.05   # a real peak, not a plateau
                acc = pairwise_accuracy(sp.ref_probs, sp.rewards, pr.rewards)
                beats += acc > 0.5
                interior_lin += inside
                assert inside or acc < 0.5, f"seed {seed}: proxy beats chance (acc {acc:.3f}) but gold peaks at N={GRID[i]}"
            else:
                interior_quad += inside
    assert beats >= 34 and interior_lin == beats
    assert interior_quad >= 34


def test_calibration_is_least_squares_under_pi_ref(toy):
    sp, proxy = toy
    a, b = calibration(sp.ref_probs, sp.rewards, proxy)
    w = np.sqrt(sp.ref_probs)
    ref = np.linalg.lstsq(np.stack([w, w * proxy], 1), w * sp.rewards, rcond=None)[0]
    np.testing.assert_allclose([a, b], ref, rtol=1e-8, atol=1e-12)


def test_mean_plug_in_target_matches_monte_carlo(toy, rng):
    sp, proxy = toy
    n, k = 6, 8
    exact = mean_plug_in_target(sp.ref_probs, proxy, n, k)
    reps = 20_000
    acc = np.zeros(sp.x.size)
    for _ in range(reps):
        acc += mc_p_le(sp.ref_probs, proxy, k, rng) ** (n - 1)
    mc = sp.ref_probs * acc / reps
    mc /= mc.sum()
    assert 0.5 * np.abs(mc - exact).sum() < 0.02


def test_quantile_errors_compound_with_n(toy):
    sp, proxy = toy
    ns = np.array([1, 2, 8, 64, 1024])
    qv = quantile_view(sp.ref_probs, sp.rewards, proxy, ns, ks=(4, 64))
    np.testing.assert_allclose(qv.tv[:, 0], 0, atol=1e-12)                 # N = 1: no quantile in play
    assert np.all(np.diff(qv.tv, axis=1) > 0)                               # worse with every N
    assert np.all(qv.tv[0, 1:] > qv.tv[1, 1:])                              # more samples help ...
    assert qv.tv[1, -1] > 0.5                                               # ... but N >> k still breaks it
    # the estimated target stops sharpening: its d saturates while the exact one keeps growing
    assert qv.d[0, -1] - qv.d[0, -2] < 0.01 < qv.d_exact[-1] - qv.d_exact[-2]
    _, p_le = __import__("bondlab").quantiles(sp.ref_probs, proxy)
    np.testing.assert_allclose(qv.gold_exact[2], plug_in_bon_probs(sp.ref_probs, p_le, 8) @ sp.rewards)


def test_run_overopt_is_deterministic_and_serialisable():
    cfg = OveroptConfig(m=30, noise=0.3, n_points=12, n_betas=10, ks=(4,))
    a, b = run_overopt(cfg), run_overopt(cfg)
    ja, jb = to_json(a), to_json(b)
    assert ja == jb
    for key in ("n", "kl", "gold", "proxy", "best_n_true", "best_n_fit", "fit", "config"):
        assert key in ja
    assert len(ja["n"]) == len(ja["kl"]) == len(ja["gold"]) == len(ja["proxy"])
    assert set(ja["fit"]) == {"bon", "rl"} and set(ja["fit"]["bon"]) >= {"alpha", "beta"}
    gold_at = bon_probs(a.space.ref_probs, a.proxy.rewards, a.best_n_true) @ a.space.rewards
    assert gold_at >= max(ja["gold"]) - 1e-12


def test_bad_input():
    with pytest.raises(ValueError, match="noise"):
        OveroptConfig(noise=-0.1)
    with pytest.raises(ValueError, match="m must"):
        OveroptConfig(m=0)
    with pytest.raises(ValueError, match="gold"):
        OveroptConfig(gold="sawtooth")
    with pytest.raises(ValueError, match="beta_min"):
        OveroptConfig(beta_min=1.0, beta_max=0.5)
    with pytest.raises(ValueError, match="seed"):
        OveroptConfig(seed=-1)
    with pytest.raises(ValueError, match="n_max"):
        n_grid(0)
    with pytest.raises(ValueError, match="form"):
        fit_gao([1, 2], [1, 2], "exp")
    with pytest.raises(ValueError, match="two distinct"):
        fit_gao([0.0, 1.0], [0.0, 1.0])
    with pytest.raises(ValueError, match="d must be >= 0"):
        fit_gao([-1.0, 1.0, 2.0], [0.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="finite"):
        fit_gao([1.0, 2.0], [np.nan, 1.0])
    sp = make_space(OveroptConfig(k=11))
    with pytest.raises(ValueError, match="proxy"):
        bon_curves(sp.ref_probs, sp.rewards, sp.rewards[:-1], [2])
    with pytest.raises(ValueError, match="ns"):
        bon_curves(sp.ref_probs, sp.rewards, sp.rewards, [0.5])
    with pytest.raises(ValueError, match="beta"):
        kl_regularised(sp.ref_probs, sp.rewards, 0.0)
    with pytest.raises(ValueError, match="cfg"):
        run_overopt(dict(m=3))


def test_policy_curves_of_bon_policies_are_the_bon_curve(toy):
    sp, proxy = toy
    ns = [2, 9, 40]
    c = policy_curves(sp.ref_probs, sp.rewards, proxy, [bon_probs(sp.ref_probs, proxy, n) for n in ns], ns)
    b = bon_curves(sp.ref_probs, sp.rewards, proxy, ns)
    np.testing.assert_allclose(c.kl, b.kl, rtol=1e-8)
    np.testing.assert_allclose(c.gold, b.gold, rtol=1e-10)
    with pytest.raises(ValueError, match=r"policies\[0\]"):
        policy_curves(sp.ref_probs, sp.rewards, proxy, [np.ones(3) / 3])


def test_bond_with_a_tabular_policy_lands_on_the_bon_curve(toy):
    """Exact-gradient BOND with a free (tabular) policy distils pi_BoN itself: its point joins the BoN curve."""
    sp, proxy = toy
    c = bond_curves(sp, proxy, [8], family="tabular", steps=300, lr=0.1)
    b = bon_curves(sp.ref_probs, sp.rewards, proxy, [8])
    assert c.d[0] == pytest.approx(b.d[0], abs=0.02) and c.gold[0] == pytest.approx(b.gold[0], abs=0.01)
