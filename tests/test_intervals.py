"""bondlab.intervals against independent oracles: Monte Carlo coverage of a known mean (tolerance from the
binomial law of the hit count), the normal-theory interval for a large sample (tolerance from the sampling
law of a bootstrap percentile), a brute-force loop over the replicates for the front, determinism, and
bad input refused by name."""
import math

import numpy as np
import pytest
from scipy import stats

from bondlab.intervals import (Interval, front_intervals, front_point, history_intervals, joint_mean_intervals,
                               mean_interval, paired_difference, percentile_interval, resample_counts)

Z = stats.norm.ppf(0.975)


def _endpoint_sd(n_boot: int, level: float = 0.95) -> float:
    """Standard deviation of a bootstrap percentile endpoint, in units of the bootstrap distribution's sd,
    for a normal bootstrap law: the q-quantile of n_boot draws has sd sqrt(q (1-q) / n_boot) / phi(z_q)."""
    q = (1 - level) / 2
    return math.sqrt(q * (1 - q) / n_boot) / stats.norm.pdf(stats.norm.ppf(q))


def test_resample_counts_are_draws_with_replacement():
    w = resample_counts(7, 5000, np.random.default_rng(0))
    assert w.shape == (5000, 7) and np.all(w.sum(1) == 7) and np.all(w == np.round(w))
    # each count is Binomial(7, 1/7): mean 1, variance 6/7; 35000 counts give the mean to +-4 sd
    assert abs(w.mean() - 1) < 4 * math.sqrt(6 / 7 / w.size)
    assert abs(w.var() - 6 / 7) < 4 * math.sqrt(2 * (6 / 7) ** 2 / w.size) + 0.02   # + the Binomial's kurtosis


def test_coverage_of_a_known_mean_matches_normal_theory():
    """Normal data, n = 30: the percentile interval of the mean is xbar +- z s_plugin / sqrt(n) up to the
    bootstrap's own noise, so it covers mu with probability P(|t_29| <= z sqrt(29/30)) (about 0.936, not
    0.95). M trials: the hit count is Binomial(M, p); 4 sd of it, plus the coverage lost to noisy endpoints
    (z phi(z) var(endpoint), 0.0008 at n_boot = 1000), bound the difference."""
    n, m_trials, n_boot, mu = 30, 2000, 1000, 1.5
    rng = np.random.default_rng(12)
    hits = 0
    for _ in range(m_trials):
        x = rng.normal(mu, 2.0, size=n)
        iv = mean_interval(x, rng, n_boot=n_boot)
        hits += iv.lo <= mu <= iv.hi
    p = 2 * stats.t.cdf(Z * math.sqrt((n - 1) / n), df=n - 1) - 1
    tol = 4 * math.sqrt(p * (1 - p) / m_trials) + Z * stats.norm.pdf(Z) * _endpoint_sd(n_boot) ** 2
    assert abs(hits / m_trials - p) < tol, (hits / m_trials, p, tol)


def test_large_sample_agrees_with_the_normal_interval():
    """n = 2000 normal values: each endpoint is xbar +- z s / sqrt(n) to within 5 sd of a percentile endpoint
    (the plug-in and skewness corrections are below 1e-3 standard errors here)."""
    n, n_boot = 2000, 4000
    rng = np.random.default_rng(5)
    x = rng.normal(0.3, 1.7, size=n)
    iv = mean_interval(x, np.random.default_rng(6), n_boot=n_boot)
    se = x.std(ddof=1) / math.sqrt(n)
    tol = 5 * _endpoint_sd(n_boot)
    assert iv.estimate == pytest.approx(x.mean(), rel=1e-12)
    assert abs(iv.lo - (x.mean() - Z * se)) / se < tol and abs(iv.hi - (x.mean() + Z * se)) / se < tol


def test_paired_difference_removes_what_the_prompts_share():
    """y = x + small noise: the paired interval follows the normal interval of the differences, far
    narrower than the unpaired one that the shared part would widen."""
    n, n_boot = 2000, 4000
    rng = np.random.default_rng(8)
    shared = rng.normal(0, 3.0, size=n)
    x, y = shared + rng.normal(0.2, 0.5, size=n), shared + rng.normal(0.0, 0.5, size=n)
    iv = paired_difference(x, y, np.random.default_rng(9), n_boot=n_boot)
    d = x - y
    se = d.std(ddof=1) / math.sqrt(n)
    tol = 5 * _endpoint_sd(n_boot)
    assert abs(iv.lo - (d.mean() - Z * se)) / se < tol and abs(iv.hi - (d.mean() + Z * se)) / se < tol
    unpaired_se = math.sqrt(x.var(ddof=1) / n + y.var(ddof=1) / n)
    assert (iv.hi - iv.lo) < 0.5 * 2 * Z * unpaired_se


def test_joint_and_history_resampling_share_one_set_of_counts():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(3, 50)), rng.exponential(size=(3, 50))
    h = history_intervals({"a": a, "b": b}, np.random.default_rng(4), n_boot=500)
    same = lambda u, v: u.estimate == v.estimate and [u.lo, u.hi] == pytest.approx([v.lo, v.hi], rel=1e-12)  # noqa: E731
    for c in range(3):
        # the same generator state draws the same counts: one checkpoint alone gives the same interval
        # (up to the summation order of a matrix product against a vector product)
        assert same(h["a"][c], mean_interval(a[c], np.random.default_rng(4), n_boot=500))
        assert same(h["b"][c], mean_interval(b[c], np.random.default_rng(4), n_boot=500))
    j = joint_mean_intervals({"a": a[0], "b": b[0]}, np.random.default_rng(4), n_boot=500)
    assert same(j["a"], h["a"][0]) and same(j["b"], h["b"][0])


def test_percentile_interval_is_numpys_linear_percentile():
    s = np.random.default_rng(2).normal(size=1001)
    assert percentile_interval(s) == pytest.approx(tuple(np.quantile(s, [0.025, 0.975])), rel=1e-14)
    s[:30] = -np.inf   # replicates with no value: the 2.5% endpoint sits at order statistic 25, among them
    assert percentile_interval(s)[0] is None and percentile_interval(s)[1] is not None


def _front_oracle(r, k, kmax, rng, n_boot, sr=None, sk=None):
    """Replicate by replicate in plain Python, with the counts front_intervals draws (same order)."""
    w = resample_counts(r.shape[1], n_boot, rng)
    ws = resample_counts(sr.shape[1], n_boot, rng) if sr is not None else w
    sr, sk = (r, k) if sr is None else (sr, sk)
    rewards, kls = [], []
    for b in range(n_boot):
        best, best_r = None, -math.inf
        for c in range(r.shape[0]):
            mk, mr = float(ws[b] @ sk[c]) / sk.shape[1], float(ws[b] @ sr[c]) / sr.shape[1]
            if mk <= kmax and mr > best_r:
                best, best_r = c, mr
        rewards.append(-math.inf if best is None else float(w[b] @ r[best]) / r.shape[1])
        if best is not None:
            kls.append(float(w[b] @ k[best]) / r.shape[1])
    return percentile_interval(rewards), percentile_interval(kls)


@pytest.mark.parametrize("with_select", [False, True])
def test_front_matches_a_replicate_by_replicate_loop(with_select):
    rng = np.random.default_rng(3)
    C, n, m, n_boot = 5, 40, 30, 300
    r = rng.normal(np.linspace(0, 1, C)[:, None], 1.0, size=(C, n))                    # reward rises along the history
    k = np.abs(rng.normal(np.linspace(0, 2, C)[:, None], 0.5, size=(C, n)))            # so does the KL
    sel = dict(select_reward=rng.normal(np.linspace(0, 1, C)[:, None], 1.0, size=(C, m)),
               select_kl=np.abs(rng.normal(np.linspace(0, 2, C)[:, None], 0.5, size=(C, m)))) if with_select else {}
    kls = (0.5, 1.0, 1.5, 3.0)
    pts = front_intervals(r, k, kls, np.random.default_rng(7), n_boot=n_boot, **sel)
    for kmax, pt in zip(kls, pts):
        sr, sk = (sel["select_reward"], sel["select_kl"]) if with_select else (r, k)
        ok = np.flatnonzero(sk.mean(1) <= kmax)
        assert pt.index == ok[np.argmax(sr.mean(1)[ok])] == front_point(r, k, kmax, **sel)
        assert pt.reward.estimate == pytest.approx(r[pt.index].mean(), rel=1e-12)
        assert pt.kl.estimate == pytest.approx(k[pt.index].mean(), rel=1e-12)
        (rlo, rhi), (klo, khi) = _front_oracle(r, k, kmax, np.random.default_rng(7), n_boot,
                                               sel.get("select_reward"), sel.get("select_kl"))
        for got, want in ((pt.reward.lo, rlo), (pt.reward.hi, rhi), (pt.kl.lo, klo), (pt.kl.hi, khi)):
            assert (got is None and want is None) or got == pytest.approx(want, rel=1e-9, abs=1e-12)
    assert front_intervals(r, k, (-0.0,), np.random.default_rng(7), n_boot=50)[0] is None or k.min() == 0


def test_front_choice_is_made_on_the_selection_set():
    r = np.array([[0.0, 0.0], [0.5, 0.5], [0.9, 0.9]])          # the report prefers checkpoint 2
    k = np.array([[0.0, 0.0], [1.0, 1.0], [1.0, 1.0]])
    sr = np.array([[0.0, 0.0], [0.8, 0.8], [0.1, 0.1]])         # the selection prefers checkpoint 1
    assert front_point(r, k, 1.0) == 2
    assert front_point(r, k, 1.0, select_reward=sr, select_kl=k) == 1
    assert front_point(r, k, 0.5) == 0 and front_point(r + 1, k + 2, 0.5) is None
    pt = front_intervals(r, k, [1.0], np.random.default_rng(0), select_reward=sr, select_kl=k, n_boot=50)[0]
    assert pt.index == 1 and pt.reward == Interval(0.5, 0.5, 0.5) and pt.defined == 1.0


def test_same_seed_same_numbers():
    x = np.random.default_rng(0).normal(size=100)
    a, b = mean_interval(x, np.random.default_rng(11)), mean_interval(x, np.random.default_rng(11))
    c = mean_interval(x, np.random.default_rng(12))
    assert a == b and a != c and a.estimate == c.estimate


@pytest.mark.parametrize("call, exc, name", [
    (lambda: mean_interval([1.0, 2.0], 0), TypeError, "rng"),
    (lambda: mean_interval([1.0, 2.0], np.random.default_rng(), level=1.0), ValueError, "level"),
    (lambda: mean_interval([1.0, 2.0], np.random.default_rng(), n_boot=1), ValueError, "n_boot"),
    (lambda: mean_interval([1.0, 2.0], np.random.default_rng(), n_boot=None), ValueError, "n_boot"),
    (lambda: mean_interval([1.0, 2.0], np.random.default_rng(), level=None), ValueError, "level"),
    (lambda: mean_interval([True, False], np.random.default_rng()), ValueError, "x"),
    (lambda: mean_interval("ab", np.random.default_rng()), ValueError, "x"),
    (lambda: mean_interval([1.0, float("nan")], np.random.default_rng()), ValueError, "x"),
    (lambda: mean_interval([1.0], np.random.default_rng()), ValueError, "x"),
    (lambda: mean_interval([[1.0, 2.0]], np.random.default_rng()), ValueError, "x"),
    (lambda: paired_difference([1.0, 2.0], [1.0, 2.0, 3.0], np.random.default_rng()), ValueError, "x and y"),
    (lambda: joint_mean_intervals({"a": [1, 2], "b": [1, 2, 3]}, np.random.default_rng()), ValueError, "values"),
    (lambda: history_intervals({"a": [1.0, 2.0]}, np.random.default_rng()), ValueError, "values"),
    (lambda: resample_counts(0, 10, np.random.default_rng()), ValueError, "n must"),
    (lambda: front_intervals(np.zeros((2, 3)), np.zeros((2, 4)), [1], np.random.default_rng()), ValueError,
     "reward and kl"),
    (lambda: front_intervals(np.zeros((2, 3)), np.zeros((2, 3)), [-1], np.random.default_rng()), ValueError, "kls"),
    (lambda: front_intervals(np.zeros((2, 3)), np.zeros((2, 3)), [1], np.random.default_rng(),
                             select_reward=np.zeros((2, 3))), ValueError, "select_reward and select_kl"),
    (lambda: front_intervals(np.zeros((2, 3)), np.zeros((2, 3)), [1], np.random.default_rng(),
                             select_reward=np.zeros((3, 3)), select_kl=np.zeros((3, 3))), ValueError, "select_reward"),
])
def test_bad_input_is_refused_by_name(call, exc, name):
    with pytest.raises(exc, match=name):
        call()
