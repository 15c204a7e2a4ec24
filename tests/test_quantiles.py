"""Quantile estimates from k samples: unbiasedness, the exact power law of the error, and the clamp."""
import numpy as np
import pytest
from scipy import stats

import bondlab as bl
from bondlab import quantile_estimates as Q


def test_mc_p_le_is_unbiased_and_binomial(rng):
    s = bl.grid_mixture(25, reward="steps")
    _, p_le = bl.quantiles(s.ref_probs, s.rewards)
    k, reps = 16, 4000
    est = np.stack([Q.mc_p_le(s.ref_probs, s.rewards, k, rng, clamp=1e-12) for _ in range(reps)])
    est[est < 1e-9] = 0.0                                # undo the clamp to test the raw estimator
    se = np.sqrt(p_le * (1 - p_le) / (k * reps))
    assert np.all(np.abs(est.mean(0) - p_le) <= 5 * se + 1e-12)


def test_clamp_and_bad_input(rng):
    p, r = np.array([0.999, 0.001]), np.array([1.0, 0.0])
    est = Q.mc_p_le(p, r, 4, np.random.default_rng(0))
    assert est.min() >= 1 / 8
    with pytest.raises(ValueError, match="k"):
        Q.mc_p_le(p, r, 0, rng)
    with pytest.raises(ValueError, match="clamp"):
        Q.mc_p_le(p, r, 4, rng, clamp=0)


def test_expected_power_against_direct_binomial_sum():
    for p in (0.1, 0.5, 0.93):
        for k, m in ((4, 3), (16, 15), (8, 100)):
            want = sum(stats.binom.pmf(x, k, p) * (x / k) ** m for x in range(k + 1))
            assert Q.expected_power(p, k, m)[0] == pytest.approx(want, rel=1e-12)
    # m = 1 is unbiased; large m is dominated by P[all k <= r] = p^k
    assert Q.expected_power(0.7, 10, 1)[0] == pytest.approx(0.7)
    assert Q.expected_power(0.7, 10, 10_000)[0] == pytest.approx(0.7 ** 10, rel=1e-6)


def test_plug_in_target_with_exact_quantiles_is_continuous_form():
    s = bl.grid_mixture(41)
    _, p_le = bl.quantiles(s.ref_probs, s.rewards)
    got = Q.plug_in_bon_probs(s.ref_probs, p_le, 8)
    want = s.ref_probs * p_le ** 7
    assert np.allclose(got, want / want.sum())
    with pytest.raises(ValueError, match="p_le_hat"):
        Q.plug_in_bon_probs(s.ref_probs, np.zeros(41), 8)


def test_plug_in_error_grows_with_n_and_shrinks_with_k():
    s = bl.grid_mixture(41)
    e_small_n = Q.plug_in_error(s.ref_probs, s.rewards, 2, 16, np.random.default_rng(0), reps=100)[0]
    e_big_n = Q.plug_in_error(s.ref_probs, s.rewards, 64, 16, np.random.default_rng(0), reps=100)[0]
    e_big_k = Q.plug_in_error(s.ref_probs, s.rewards, 64, 1024, np.random.default_rng(0), reps=100)[0]
    assert e_small_n < e_big_n and e_big_k < e_big_n
