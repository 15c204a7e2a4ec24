"""Exact Best-of-N against independent oracles: brute-force enumeration, Monte Carlo, float64 references."""
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from scipy import stats

import bondlab as bl
from bondlab.bon import bon_terms
from helpers import enumerate_bon  # tests/helpers.py


def theorem1(p, r, n):
    """Theorem 1 written term by term, in plain Python floats."""
    out = []
    for y in range(len(p)):
        p_lt = sum(p[j] for j in range(len(p)) if r[j] < r[y])
        p_le = sum(p[j] for j in range(len(p)) if r[j] <= r[y])
        if p[y] == 0:
            out.append(0.0)
            continue
        out.append(p[y] * p_le ** (n - 1) * sum((p_lt / p_le) ** (i - 1) for i in range(1, n + 1)))
    return np.array(out)


def random_space(rng, k, levels=3, zero=0.0):
    p = rng.dirichlet(np.ones(k))
    if zero and k > 1:
        p[rng.random(k) < zero] = 0
        if p.sum() == 0:
            p[0] = 1
        p = p / p.sum()
    r = rng.integers(0, levels, k).astype(float)
    return p, r


@pytest.mark.parametrize("n", [1, 2, 3, 4])
@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_brute_force_oracle_with_ties(k, n, rng):
    for _ in range(6):
        p, r = random_space(rng, k, levels=2 if k > 2 else 3, zero=0.2)
        expect = enumerate_bon(p.tolist(), r.tolist(), n)
        assert np.max(np.abs(bl.bon_probs(p, r, n) - expect)) < 1e-12
        assert np.max(np.abs(np.exp(bl.bon_log_probs(p, r, n)) - expect)) < 1e-12
        assert np.max(np.abs(theorem1(p.tolist(), r.tolist(), n) - expect)) < 1e-12


def test_ties_between_distinct_outcomes_share_level_mass_in_proportion():
    p = np.array([0.1, 0.3, 0.2, 0.4])
    r = np.array([1.0, 1.0, 0.0, 0.0])
    out = bl.bon_probs(p, r, 3)
    level_top = 1 - 0.6 ** 3
    assert out[:2] == pytest.approx([level_top * 0.25, level_top * 0.75], abs=1e-15)
    assert out[2:] == pytest.approx([0.6 ** 3 / 3, 0.6 ** 3 * 2 / 3], abs=1e-15)


def test_terms_multiply_to_bon_and_B_is_in_1_n(rng):
    for _ in range(20):
        p, r = random_space(rng, 12, levels=4)
        n = float(rng.integers(1, 30))
        a, b = bon_terms(p, r, n)
        assert np.allclose(p * a * b, bl.bon_probs(p, r, n), atol=1e-14)
        assert np.all((b >= 1 - 1e-12) & (b <= n + 1e-9))
    # worst outcome: (B) = 1 and pi_BoN = pi_ref^N... for a single worst outcome
    p = np.array([0.2, 0.5, 0.3])
    r = np.array([0.0, 1.0, 2.0])
    a, b = bon_terms(p, r, 4)
    assert b[0] == 1.0 and bl.bon_probs(p, r, 4)[0] == pytest.approx(0.2 ** 4)


def test_monte_carlo_agreement(rng):
    space = bl.grid_mixture(21, reward="steps")
    n, size = 5, 200_000
    exact = bl.bon_probs(space.ref_probs, space.rewards, n)
    draws = bl.sample_bon(space.ref_probs, space.rewards, n, size, rng)
    freq = np.bincount(draws, minlength=21) / size
    # each frequency within 5 binomial standard errors (plus a floor for zero-mass cells)
    se = np.sqrt(exact * (1 - exact) / size)
    assert np.all(np.abs(freq - exact) <= 5 * se + 1e-12)
    # and a chi-square goodness of fit on the cells with mass
    live = exact * size > 5
    chi2 = np.sum((freq[live] - exact[live]) ** 2 / exact[live]) * size
    assert stats.chi2.sf(chi2, live.sum() - 1) > 1e-4


def test_sample_bon_keeps_the_first_best():
    # two tied top outcomes: the first drawn is kept, so each gets half the level's mass by symmetry
    p = np.array([0.5, 0.25, 0.25])
    r = np.array([0.0, 1.0, 1.0])
    draws = bl.sample_bon(p, r, 2, 100_000, np.random.default_rng(1))
    freq = np.bincount(draws, minlength=3) / 100_000
    assert freq == pytest.approx(bl.bon_probs(p, r, 2), abs=0.01)


def test_same_seed_same_samples():
    s = bl.grid_mixture(31)
    a = bl.sample_bon(s.ref_probs, s.rewards, 7, 1000, np.random.default_rng(3))
    b = bl.sample_bon(s.ref_probs, s.rewards, 7, 1000, np.random.default_rng(3))
    assert np.array_equal(a, b)


@pytest.mark.parametrize("n", [2, 3, 1.7])
def test_composition(n, rng):
    for _ in range(10):
        p, r = random_space(rng, 15, levels=5, zero=0.1)
        twice = bl.bon_probs(bl.bon_probs(p / p.sum(), r, n), r, n)
        assert np.max(np.abs(twice - bl.bon_probs(p, r, n * n))) < 1e-13


def test_n1_is_ref_and_sums_to_one(rng):
    for _ in range(20):
        p, r = random_space(rng, 40, levels=6, zero=0.2)
        assert np.allclose(bl.bon_probs(p, r, 1), p, atol=1e-16, rtol=1e-14)
        for n in (1.5, 2, 17, 1e4):
            assert math.fsum(bl.bon_probs(p, r, n)) == pytest.approx(1, abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(k=st.integers(1, 30), n=st.floats(1, 500), seed=st.integers(0, 2**32 - 1), levels=st.integers(1, 8))
def test_property_random_spaces(k, n, seed, levels):
    rng = np.random.default_rng(seed)
    p, r = random_space(rng, k, levels=levels, zero=0.15)
    out = bl.bon_probs(p, r, n)
    log_out = bl.bon_log_probs(p, r, n)
    assert np.all(out >= 0) and math.fsum(out) == pytest.approx(1, abs=1e-10)
    assert np.all(np.isneginf(log_out) == (p == 0))
    assert np.allclose(np.exp(log_out), out, atol=1e-14, rtol=1e-10)
    # BoN is a monotone reweighting: the BoN CDF over rewards is F^n
    lv = bl.levels(p, r)
    bon_cdf = np.cumsum(np.add.reduceat(out[lv.order], np.r_[0, np.cumsum(lv.counts)[:-1]]))
    assert np.allclose(bon_cdf, np.cumsum(lv.mass) ** n, atol=1e-10)
    # stochastic dominance: E_BoN[r] >= E_ref[r]
    assert out @ r >= p @ r - 1e-9


def test_real_n_is_smooth_between_integers():
    s = bl.grid_mixture(41, reward="bump")
    ns = np.linspace(2, 3, 11)
    er = np.array([bl.bon_probs(s.ref_probs, s.rewards, n) @ s.rewards for n in ns])
    assert np.all(np.diff(er) > 0)
    assert er[0] == pytest.approx(bl.bon_probs(s.ref_probs, s.rewards, 2) @ s.rewards)


def test_extreme_n_and_tiny_probabilities():
    p = np.array([1e-300, 0.25, 0.25 - 1e-300, 0.5, 0.0])
    r = np.array([10.0, 1.0, 2.0, 0.0, 99.0])
    n = 1e9
    lp = bl.bon_log_probs(p, r, n)
    assert np.isneginf(lp[4]) and np.all(np.isfinite(lp[:4]))
    # top outcome: mass 1 - (1 - 1e-300)^n = n * 1e-300 to first order
    assert lp[0] == pytest.approx(math.log(n) + math.log(1e-300), rel=1e-12)
    # the second-best level (r = 2) gets (1-1e-300)^n - (0.75)^n ~ 1
    assert lp[2] == pytest.approx(0.0, abs=1e-12)
    # level r = 1: 0.75^n - 0.5^n, in logs n log 0.75
    assert lp[1] == pytest.approx(n * math.log(0.75), rel=1e-12)
    assert lp[3] == pytest.approx(n * math.log(0.5), rel=1e-12)
    # bon_probs underflows to 0 where the log is finite; it never yields NaN
    out = bl.bon_probs(p, r, n)
    assert not np.isnan(out).any() and out[1] == 0.0


def test_all_tied_is_reference_and_zero_probability_stays_zero():
    p = np.array([0.2, 0.0, 0.8])
    r = np.zeros(3)
    for n in (1, 2, 1e9):
        assert np.allclose(bl.bon_probs(p, r, n), p)
        lp = bl.bon_log_probs(p, r, n)
        assert np.isneginf(lp[1]) and np.allclose(lp[[0, 2]], np.log(p[[0, 2]]))


def test_log_space_matches_mpmath_reference():
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 400  # 1e-200 next to 1 needs hundreds of digits
    p = [1e-200, 3e-5, 0.2, 0.3, 0.5 - 3e-5 - 1e-200]
    r = [4.0, 3.0, 3.0, 1.0, 0.0]
    for n in (3, 1e3, 1e7):
        lp = bl.bon_log_probs(np.array(p), np.array(r), n)
        P = [mpmath.mpf(x) for x in p]
        total = sum(P)
        P = [x / total for x in P]
        for y in range(5):
            lo = sum(P[j] for j in range(5) if r[j] < r[y])
            hi = sum(P[j] for j in range(5) if r[j] <= r[y])
            lvl = hi - lo
            exact = mpmath.log(P[y] / lvl * (hi ** n - lo ** n))
            assert lp[y] == pytest.approx(float(exact), rel=1e-9, abs=1e-9)


def test_quantiles_match_definition(rng):
    p, r = random_space(rng, 25, levels=6, zero=0.2)
    p_lt, p_le = bl.quantiles(p, r)
    for y in range(25):
        assert p_lt[y] == pytest.approx(p[r < r[y]].sum(), abs=1e-15)
        assert p_le[y] == pytest.approx(p[r <= r[y]].sum(), abs=1e-15)


def test_torch_twin_matches_numpy_batched(rng):
    rows = [random_space(rng, 30, levels=5, zero=0.2) for _ in range(4)]
    with np.errstate(divide="ignore"):
        log_ref = torch.tensor(np.log(np.stack([p for p, _ in rows])))
    rewards = torch.tensor(np.stack([r for _, r in rows]))
    for n in (1, 2.5, 64, 1e6):
        got = bl.bon_log_probs_torch(log_ref, rewards, n).numpy()
        for i, (p, r) in enumerate(rows):
            want = bl.bon_log_probs(p, r, n)
            assert np.array_equal(np.isneginf(got[i]), np.isneginf(want))
            live = np.isfinite(want)
            assert np.allclose(got[i][live], want[live], atol=1e-10, rtol=1e-10)


def test_torch_twin_gradient_matches_finite_differences():
    torch.manual_seed(0)
    logits = torch.randn(8, dtype=torch.float64, requires_grad=True)
    rewards = torch.tensor([0.0, 1, 1, 2, 3, 3, 3, 5], dtype=torch.float64)
    weights = torch.linspace(-1, 1, 8, dtype=torch.float64)

    def f(z):
        return (bl.bon_log_probs_torch(torch.log_softmax(z, -1), rewards, 4.0).exp() * weights).sum()

    assert torch.autograd.gradcheck(f, (logits,))


def test_torch_twin_extremes():
    p = torch.tensor([1e-300, 0.25, 0.25 - 1e-300, 0.5, 0.0], dtype=torch.float64)
    r = torch.tensor([10.0, 1.0, 2.0, 0.0, 99.0], dtype=torch.float64)
    got = bl.bon_log_probs_torch(torch.log(p), r, 1e9)
    want = bl.bon_log_probs(p.numpy(), r.numpy(), 1e9)
    assert torch.isneginf(got[4]) and torch.isfinite(got[:4]).all()
    assert np.allclose(got[:4].numpy(), want[:4], rtol=1e-12)


BAD = [
    (dict(ref_probs=[0.5, -0.1, 0.6]), "ref_probs"),
    (dict(ref_probs=[0.5, np.nan, 0.5]), "ref_probs"),
    (dict(ref_probs=[0.5, 0.4, 0.0]), "ref_probs"),
    (dict(ref_probs=[[0.5, 0.5]]), "ref_probs"),
    (dict(ref_probs=[]), "ref_probs"),
    (dict(rewards=[0.0, 1.0]), "rewards"),
    (dict(rewards=[0.0, np.nan, 1.0]), "rewards"),
    (dict(rewards=[0.0, np.inf, 1.0]), "rewards"),
    (dict(rewards=[[0.0, 1.0, 2.0]]), "rewards"),
    (dict(n=0.5), "n"),
    (dict(n=np.nan), "n"),
    (dict(n=np.inf), "n"),
    (dict(n="many"), "n"),
]


@pytest.mark.parametrize("fn", [bl.bon_probs, bl.bon_log_probs, bon_terms, bl.bon_kl, bl.bon_win_rate])
@pytest.mark.parametrize("bad,name", BAD)
def test_bad_input_names_the_argument(fn, bad, name):
    args = dict(ref_probs=[0.2, 0.3, 0.5], rewards=[0.0, 1.0, 2.0], n=3)
    args.update(bad)
    with pytest.raises(ValueError, match=name):
        fn(args["ref_probs"], args["rewards"], args["n"])


def test_sampling_bad_input():
    p, r = [0.5, 0.5], [0.0, 1.0]
    with pytest.raises(ValueError, match="n"):
        bl.sample_bon(p, r, 2.5, 10, np.random.default_rng(0))
    with pytest.raises(ValueError, match="size"):
        bl.sample_bon(p, r, 2, 0, np.random.default_rng(0))
    with pytest.raises(ValueError, match="rng"):
        bl.sample_bon(p, r, 2, 10, 42)


def test_torch_twin_bad_input():
    lp = torch.log(torch.tensor([0.5, 0.5], dtype=torch.float64))
    with pytest.raises(ValueError, match="rewards"):
        bl.bon_log_probs_torch(lp, torch.tensor([0.0, float("nan")], dtype=torch.float64), 2)
    with pytest.raises(ValueError, match="log_ref"):
        bl.bon_log_probs_torch(lp + 1, torch.tensor([0.0, 1.0], dtype=torch.float64), 2)
    with pytest.raises(ValueError, match="n"):
        bl.bon_log_probs_torch(lp, torch.tensor([0.0, 1.0], dtype=torch.float64), 0)
    with pytest.raises(ValueError, match="shape"):
        bl.bon_log_probs_torch(lp, torch.tensor([0.0, 1.0, 2.0], dtype=torch.float64), 2)
