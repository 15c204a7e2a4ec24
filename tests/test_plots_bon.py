"""Plot helpers return their axes and draw the right data, checked against recomputations by brute force."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from bondlab import bon_probs, grid_mixture, sample_bon, tie_example, uniform_binary  # noqa: E402
from bondlab.plots import bon as P  # noqa: E402
from bondlab.quantile_estimates import mc_p_le  # noqa: E402
from helpers import enumerate_bon  # tests/helpers.py


def lines(ax):
    return {l.get_label(): l for l in ax.get_lines()}


def find(ax, needle):
    """The one line whose label starts with `needle`, else the one containing it."""
    hits = [l for label, l in lines(ax).items() if label.startswith(needle)]
    if len(hits) != 1:
        hits = [l for label, l in lines(ax).items() if needle in label]
    assert len(hits) == 1, (needle, list(lines(ax)))
    return hits[0]


def bars(ax, needle):
    hits = [c for c in ax.containers if needle in c.get_label()]
    assert len(hits) == 1, (needle, [c.get_label() for c in ax.containers])
    return np.array([r.get_height() for r in hits[0]])


def brute_p_le(p, r):
    return np.array([p[r <= ri].sum() for ri in r])


def brute_p_lt(p, r):
    return np.array([p[r < ri].sum() for ri in r])


def new_ax():
    return Figure().subplots()


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_plot_bon_draws_ref_exact_and_histogram(rng):
    s = tie_example()
    samples = sample_bon(s.ref_probs, s.rewards, 3, 5000, rng)
    ax = new_ax()
    assert P.plot_bon(s.ref_probs, s.rewards, 3, samples=samples, ax=ax) is ax
    np.testing.assert_allclose(find(ax, "pi_\\mathrm{ref}").get_ydata(), s.ref_probs)
    exact = find(ax, "exact").get_ydata()
    np.testing.assert_allclose(exact, bon_probs(s.ref_probs, s.rewards, 3), rtol=0, atol=1e-15)
    np.testing.assert_allclose(exact, enumerate_bon(s.ref_probs, s.rewards, 3), rtol=0, atol=1e-12)
    counts = np.array([(samples == i).sum() for i in range(s.ref_probs.size)])
    np.testing.assert_allclose(bars(ax, "Monte Carlo"), counts / samples.size)


def test_plot_bon_makes_axes_when_none_and_uses_x():
    s = grid_mixture(k=21)
    ax = P.plot_bon(s.ref_probs, s.rewards, 4, x=s.x)
    assert ax is not None and ax.figure is not None
    np.testing.assert_allclose(find(ax, "exact").get_xdata(), s.x)


def test_plot_terms_product_is_the_ratio_and_a_matches_brute_force():
    s = tie_example()
    n = 5
    ax = P.plot_terms(s.ref_probs, s.rewards, n, ax=new_ax())
    p_le, p_lt = brute_p_le(s.ref_probs, s.rewards), brute_p_lt(s.ref_probs, s.rewards)
    np.testing.assert_allclose(find(ax, "(A) $p").get_ydata(), p_le ** (n - 1), rtol=1e-12)
    b = np.array([sum((lt / le) ** (i - 1) for i in range(1, n + 1)) for lt, le in zip(p_lt, p_le)])
    np.testing.assert_allclose(find(ax, "(B)").get_ydata(), b, rtol=1e-12)
    np.testing.assert_allclose(find(ax, "(A)(B)").get_ydata(), enumerate_bon(s.ref_probs, s.rewards, n) / s.ref_probs,
                               rtol=1e-10)


def test_plot_ties_bars_show_the_b_less_target_and_the_exact_law(rng):
    s = tie_example()
    n = 4
    samples = sample_bon(s.ref_probs, s.rewards, n, 2000, rng)
    ax = P.plot_ties(s.ref_probs, s.rewards, n, samples=samples, ax=new_ax())
    p_le = brute_p_le(s.ref_probs, s.rewards)
    w = s.ref_probs * p_le ** (n - 1)
    np.testing.assert_allclose(bars(ax, "(A) only"), w / w.sum(), rtol=1e-12)
    np.testing.assert_allclose(bars(ax, "exact"), enumerate_bon(s.ref_probs, s.rewards, n), atol=1e-12)
    assert np.abs(bars(ax, "(A) only") - bars(ax, "exact")).sum() > 0.05  # term (B) visibly matters here
    np.testing.assert_allclose(find(ax, "Monte Carlo").get_ydata(), np.bincount(samples, minlength=6) / 2000)


def test_plot_kl_vs_bound_lines_equal_direct_sums():
    spaces = [grid_mixture(k=31), tie_example(), uniform_binary()]
    ns = np.array([1, 2, 3.5, 8, 64])
    ax = P.plot_kl_vs_bound(spaces, ns, ax=new_ax())
    for s in spaces:
        y = find(ax, f"exact KL: {s.name}").get_ydata()
        want = []
        for n in ns:
            q = bon_probs(s.ref_probs, s.rewards, n)
            live = q > 0
            want.append(np.sum(q[live] * np.log(q[live] / s.ref_probs[live])))
        np.testing.assert_allclose(y, want, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(find(ax, "bound").get_ydata(), np.log(ns) - (ns - 1) / ns)
    assert np.all(find(ax, "exact KL: binary").get_ydata() <= np.log(2) + 1e-12)


def test_plot_quantile_law_staircase_is_the_bon_cdf_of_p_le(rng):
    s = grid_mixture(k=41, reward="steps")
    n = 6
    samples = sample_bon(s.ref_probs, s.rewards, n, 3000, rng)
    ax = P.plot_quantile_law(s.ref_probs, s.rewards, n, samples=samples, ax=new_ax())
    stair = find(ax, "exact, this space")
    u, cdf = stair.get_xdata(), stair.get_ydata()
    p_le = brute_p_le(s.ref_probs, s.rewards)
    q = bon_probs(s.ref_probs, s.rewards, n)
    np.testing.assert_allclose(cdf, [q[p_le <= v + 1e-12].sum() for v in u], atol=1e-12)
    beta = find(ax, "Beta(N,1)")
    np.testing.assert_allclose(beta.get_ydata(), beta.get_xdata() ** n)
    emp = find(ax, "sampled picks")
    np.testing.assert_allclose(np.sort(emp.get_xdata()), np.sort(p_le[samples]), rtol=1e-12)


@pytest.mark.parametrize("log", [False, True])
def test_plot_expected_quantile(log):
    spaces = [tie_example(), uniform_binary()]
    ns = np.array([1.0, 2, 5, 16])
    ax = P.plot_expected_quantile(spaces, ns, log=log, ax=new_ax())
    for s in spaces:
        p_le = brute_p_le(s.ref_probs, s.rewards)
        f = np.log(p_le) if log else p_le
        want = [bon_probs(s.ref_probs, s.rewards, n) @ f for n in ns]
        np.testing.assert_allclose(find(ax, s.name).get_ydata(), want, rtol=1e-12)
    np.testing.assert_allclose(find(ax, "continuous").get_ydata(), -1 / ns if log else ns / (ns + 1))


def test_plot_win_rate_equals_pairwise_enumeration():
    spaces = [tie_example(), grid_mixture(k=15, reward="bump")]
    ns = np.array([1.0, 3, 10])
    ax = P.plot_win_rate(spaces, ns, ax=new_ax())
    for s in spaces:
        p, r = s.ref_probs, s.rewards
        win = (r[:, None] > r[None, :]) + 0.5 * (r[:, None] == r[None, :])   # (K, K) BoN pick i vs ref j
        want = [bon_probs(p, r, n) @ win @ p for n in ns]
        np.testing.assert_allclose(find(ax, s.name).get_ydata(), want, rtol=1e-12)
    np.testing.assert_allclose(find(ax, "N/(N+1)").get_ydata(), ns / (ns + 1))


def test_plot_reward_gain():
    s = grid_mixture(k=25, reward="two_peaks")
    ns = np.array([1.0, 4, 32])
    ax = P.plot_reward_gain([s], ns, ax=new_ax())
    want = [enumerate_bon(s.ref_probs, s.rewards, 1) @ s.rewards - s.ref_probs @ s.rewards]
    want += [bon_probs(s.ref_probs, s.rewards, n) @ s.rewards - s.ref_probs @ s.rewards for n in ns[1:]]
    np.testing.assert_allclose(find(ax, s.name).get_ydata(), want, atol=1e-12)
    assert want[0] == pytest.approx(0, abs=1e-12) and want[2] > want[1] > 0


def test_plot_quantile_error_reproduces_a_hand_loop():
    s = grid_mixture(k=31)
    ks, ns, reps = [2, 8, 32], [4.0], 15
    ax = P.plot_quantile_error(s.ref_probs, s.rewards, ns, ks, np.random.default_rng(7), reps=reps, ax=new_ax())
    (cont,) = ax.containers
    got = cont.lines[0].get_ydata()
    rng = np.random.default_rng(7)
    p_le = brute_p_le(s.ref_probs, s.rewards)
    exact = s.ref_probs * p_le ** 3
    exact /= exact.sum()
    want = []
    for k in ks:
        tvs = []
        for _ in range(reps):
            w = s.ref_probs * mc_p_le(s.ref_probs, s.rewards, k, rng) ** 3
            tvs.append(0.5 * np.abs(w / w.sum() - exact).sum())
        want.append(np.mean(tvs))
    np.testing.assert_allclose(got, want, rtol=1e-9)
    assert got[0] > got[-1]  # more reference samples, smaller error


def test_plot_plug_in():
    s = grid_mixture(k=21)
    p_hat = np.clip(brute_p_le(s.ref_probs, s.rewards) + 0.05, 0.01, 1.0)
    ax = P.plot_plug_in(s.ref_probs, s.rewards, 8, p_hat, x=s.x, ax=new_ax())
    w = s.ref_probs * p_hat ** 7
    np.testing.assert_allclose(find(ax, "plug-in").get_ydata(), w / w.sum(), rtol=1e-12)
    np.testing.assert_allclose(find(ax, "exact $\\pi").get_ydata(), bon_probs(s.ref_probs, s.rewards, 8))


def test_bad_inputs_name_the_argument():
    s = tie_example()
    with pytest.raises(ValueError, match="x has shape"):
        P.plot_bon(s.ref_probs, s.rewards, 2, x=np.arange(3), ax=new_ax())
    with pytest.raises(ValueError, match="samples"):
        P.plot_bon(s.ref_probs, s.rewards, 2, samples=np.array([0, 9]), ax=new_ax())
    with pytest.raises(ValueError, match="ns"):
        P.plot_kl_vs_bound([s], [0.5, 2], ax=new_ax())
    with pytest.raises(ValueError, match="n"):
        P.plot_terms(s.ref_probs, s.rewards, float("nan"), ax=new_ax())
