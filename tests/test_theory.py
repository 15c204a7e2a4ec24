"""Theory on finite spaces against brute-force sums and the continuous limit."""
import math

import numpy as np
import pytest

import bondlab as bl
from bondlab import theory


def direct_bon_kl(p, r, n):
    q = bl.bon_probs(p, r, n)
    live = q > 0
    return float(np.sum(q[live] * np.log(q[live] / p[live])))


def test_bound_values_from_the_paper_table():
    # log N - (N-1)/N, written out by hand
    for n in (2, 4, 8, 16):
        assert bl.bon_kl_bound(n) == pytest.approx(math.log(n) - (n - 1) / n)
    assert bl.bon_kl_bound(1) == 0.0
    assert np.allclose(bl.bon_kl_bound(np.array([2.0, 4.0])), [math.log(2) - 0.5, math.log(4) - 0.75])


def test_exact_kl_equals_direct_sum_and_respects_bound(rng):
    for _ in range(20):
        k = int(rng.integers(2, 60))
        p = rng.dirichlet(np.ones(k))
        r = rng.integers(0, 5, k).astype(float)
        for n in (1, 2, 3.5, 10, 100):
            kl = bl.bon_kl(p, r, n)
            assert kl == pytest.approx(direct_bon_kl(p, r, n), abs=1e-12)
            assert kl == pytest.approx(bl.kl(bl.bon_probs(p, r, n), p), abs=1e-12)
            assert kl <= bl.bon_kl_bound(n) + 1e-12


def test_continuous_limit_reaches_the_bound():
    # many distinct outcomes of equal tiny mass: the discrete space approaches the continuum
    k = 200_000
    p = np.full(k, 1 / k)
    r = np.arange(k, dtype=float)
    for n in (2, 4, 16):
        assert bl.bon_kl(p, r, n) == pytest.approx(bl.bon_kl_bound(n), abs=1e-3)
        assert theory.bon_expected_quantile(p, r, n) == pytest.approx(n / (n + 1), abs=1e-4)
        assert theory.bon_expected_log_quantile(p, r, n) == pytest.approx(-1 / n, abs=1e-3)
        assert bl.bon_win_rate(p, r, n) == pytest.approx(n / (n + 1), abs=1e-4)


def test_uniform_binary_kl_never_exceeds_log2():
    s = bl.uniform_binary()
    kls = [bl.bon_kl(s.ref_probs, s.rewards, n) for n in (1, 2, 10, 1e3, 1e6)]
    # strictly below log 2; for large N the gap (about 2^-N log 2) is below float resolution
    assert all(k < math.log(2) for k in kls[:3]) and all(k <= math.log(2) + 1e-15 for k in kls)
    assert kls[-1] == pytest.approx(math.log(2), abs=1e-9)
    assert bl.bon_kl_bound(1e6) > 10 * math.log(2)


def test_win_rate_and_quantile_against_monte_carlo(rng):
    s = bl.grid_mixture(31, reward="steps")
    n, size = 4, 200_000
    bon = bl.sample_bon(s.ref_probs, s.rewards, n, size, rng)
    ref = bl.sample_ref(s.ref_probs, size, rng)
    rb, rr = s.rewards[bon], s.rewards[ref]
    mc_win = np.mean(rb > rr) + 0.5 * np.mean(rb == rr)
    assert bl.bon_win_rate(s.ref_probs, s.rewards, n) == pytest.approx(mc_win, abs=5e-3)
    _, p_le = bl.quantiles(s.ref_probs, s.rewards)
    assert theory.bon_expected_quantile(s.ref_probs, s.rewards, n) == pytest.approx(p_le[bon].mean(), abs=5e-3)
    assert bl.bon_expected_reward(s.ref_probs, s.rewards, n) == pytest.approx(rb.mean(), abs=0.02)
    # with ties, E[p_le] exceeds the continuous N/(N+1)
    assert theory.bon_expected_quantile(s.ref_probs, s.rewards, n) > n / (n + 1)


def test_continuous_laws():
    u = np.linspace(0, 1, 100_001)
    for n in (1, 3, 8):
        pdf = theory.continuous_quantile_pdf(u, n)
        assert np.trapezoid(pdf, u) == pytest.approx(1, abs=1e-6)
        assert np.trapezoid(u * pdf, u) == pytest.approx(theory.continuous_expected_quantile(n), abs=1e-6)
    assert theory.continuous_expected_log_quantile(4) == -0.25


def test_gao_forms():
    d = np.array([0.0, 0.5, 1.0, 2.0])
    assert np.allclose(bl.gao_bon(d, 2.0, 0.5), d * (2 - 0.5 * d))
    assert bl.gao_rl(d, 1.0, 0.3)[0] == 0.0
    assert bl.gao_rl(d, 1.0, 0.3)[3] == pytest.approx(2 * (1 - 0.3 * math.log(2)))


def test_bad_input():
    with pytest.raises(ValueError, match="n"):
        bl.bon_kl_bound(0.5)
    with pytest.raises(ValueError, match="n"):
        bl.bon_kl_bound(np.array([2.0, np.nan]))
    with pytest.raises(ValueError, match="u"):
        theory.continuous_quantile_pdf([1.5], 2)
