"""Notebook 02's panel: the k and N sliders change the plug-in target and its TV error, which match a
hand-written recomputation (brute-force quantiles, the estimate drawn from the same seed)."""

import numpy as np
import pytest

from bondlab import bon_probs, grid_mixture
from bondlab.quantile_estimates import mc_p_le
from bondlab.widgets.quantiles import quantile_panel
from helpers import line, readout  # tests/helpers.py


def recompute(space, k, n, seed, reps):
    p, r = space.ref_probs, space.rewards
    p_le = np.array([p[r <= ri].sum() for ri in r])
    exact = p * p_le ** (n - 1)
    exact /= exact.sum()
    rng = np.random.default_rng(seed)
    p_hat = mc_p_le(p, r, k, rng)
    plug = p * p_hat ** (n - 1)
    plug /= plug.sum()
    tvs = []
    for _ in range(reps):
        w = p * mc_p_le(p, r, k, rng) ** (n - 1)
        tvs.append(0.5 * np.abs(w / w.sum() - exact).sum())
    return p_hat, plug, exact, dict(k=k, n=n, tv_draw=0.5 * np.abs(plug - exact).sum(), tv_mean=np.mean(tvs),
                                    tv_std=np.std(tvs))


def check(panel, space, k, n, seed=0, reps=40):
    p_hat, plug, exact, want = recompute(space, k, n, seed, reps)
    got = readout(panel)
    assert set(got) == set(want)
    for key, value in want.items():
        assert got[key] == pytest.approx(value, abs=6e-5, rel=1e-3), key
    ax_q, ax_t = panel.fig.axes
    np.testing.assert_allclose(line(ax_q, "from k samples"), p_hat)
    np.testing.assert_allclose(line(ax_t, "plug-in"), plug, rtol=1e-9, atol=1e-300)
    np.testing.assert_allclose(line(ax_t, "exact quantiles"), exact, rtol=1e-9, atol=1e-300)
    np.testing.assert_allclose(line(ax_t, "exact $\\pi"), bon_probs(space.ref_probs, space.rewards, n))


def test_k_slider_changes_the_estimate_and_the_error():
    space = grid_mixture()
    panel = quantile_panel(space, k=16, n=16.0)
    assert set(panel.controls) == {"k", "n"}
    check(panel, space, 16, 16.0)
    before = readout(panel)
    panel.controls["k"].value = 256
    check(panel, space, 256, 16.0)
    assert readout(panel)["tv_mean"] < before["tv_mean"]  # more samples, smaller error
    panel.controls["k"].value = 1
    check(panel, space, 1, 16.0)


def test_n_slider_raises_the_error():
    space = grid_mixture()
    panel = quantile_panel(space, k=32, n=2.0)
    low = readout(panel)["tv_mean"]
    png = panel.image.value
    panel.controls["n"].value = 512.0
    check(panel, space, 32, 512.0)
    assert readout(panel)["tv_mean"] > low and panel.image.value != png
    panel.controls["n"].value = 1.0  # N = 1: the target is pi_ref whatever the estimate
    check(panel, space, 32, 1.0)
    assert readout(panel)["tv_draw"] == pytest.approx(0, abs=1e-12)


def test_same_settings_same_numbers():
    a, b = quantile_panel(k=8, n=64.0), quantile_panel(k=8, n=64.0)
    assert a.readout.value == b.readout.value
