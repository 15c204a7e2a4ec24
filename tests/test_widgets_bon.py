"""Notebook 01's panel: every control, set through ``.value``, changes the readout and the plotted data to
what an independent recomputation gives (direct KL sums, pairwise win counts, brute-force quantiles)."""

import numpy as np
import pytest

from bondlab import bon_probs, grid_mixture
from bondlab.spaces import REWARD_SHAPES
from bondlab.widgets.bon import bon_panel
from helpers import line, readout  # tests/helpers.py


def expected(weight, reward, n):
    """The readout recomputed without the theory module: direct sums over outcomes."""
    s = grid_mixture(weights=(weight, 1 - weight), reward=reward)
    p, r = s.ref_probs, s.rewards
    q = bon_probs(p, r, n)
    live = q > 0
    win = (r[:, None] > r[None, :]) + 0.5 * (r[:, None] == r[None, :])
    return s, q, dict(n=n, reward_ref=p @ r, reward_bon=q @ r, kl=np.sum(q[live] * np.log(q[live] / p[live])),
                      bound=np.log(n) - (n - 1) / n, win_rate=q @ win @ p, win_cont=n / (n + 1),
                      top_mass=q[r == r.max()].sum())


def check(panel, weight, reward, n):
    s, q, want = expected(weight, reward, n)
    got = readout(panel)
    assert set(got) == set(want)
    for key, value in want.items():
        assert got[key] == pytest.approx(value, abs=6e-5, rel=1e-3), key
    ax_probs, ax_terms = panel.fig.axes
    np.testing.assert_allclose(line(ax_probs, "pi_\\mathrm{ref}"), s.ref_probs, rtol=1e-12)
    np.testing.assert_allclose(line(ax_probs, "exact"), q, rtol=1e-12)
    p_le = np.array([s.ref_probs[s.rewards <= ri].sum() for ri in s.rewards])
    np.testing.assert_allclose(line(ax_terms, "(A) $"), p_le ** (n - 1), rtol=1e-9, atol=1e-300)
    np.testing.assert_allclose(line(ax_terms, "(A)(B)"), q / s.ref_probs, rtol=1e-9)


@pytest.fixture
def panel():
    return bon_panel(n=8, weight=0.6, reward="linear")


def test_initial_state_and_layout(panel):
    assert set(panel.controls) == {"n", "weight", "reward"}
    assert panel.controls["n"].min == 0 and panel.controls["n"].max == 10 and panel.controls["n"].base == 2
    assert panel.widget.children and panel.image.value[:4] == b"\x89PNG"
    check(panel, 0.6, "linear", 8.0)


def test_n_slider_on_a_log_scale_takes_real_n(panel):
    before, png = panel.readout.value, panel.image.value
    for n in (1.0, 2 ** 3.55, 1024.0):
        panel.controls["n"].value = n
        check(panel, 0.6, "linear", panel.controls["n"].value)
    assert panel.readout.value != before and panel.image.value != png
    panel.controls["n"].value = 1.0
    assert readout(panel)["kl"] == pytest.approx(0, abs=1e-12)


def test_weight_slider_moves_pi_ref(panel):
    old_ref = line(panel.fig.axes[0], "pi_\\mathrm{ref}").copy()
    panel.controls["weight"].value = 0.15
    check(panel, 0.15, "linear", 8.0)
    assert np.abs(line(panel.fig.axes[0], "pi_\\mathrm{ref}") - old_ref).sum() > 0.1
    panel.controls["weight"].value = 1.0  # a single component is allowed
    check(panel, 1.0, "linear", 8.0)


@pytest.mark.parametrize("shape", [s for s in REWARD_SHAPES if s != "linear"])
def test_reward_dropdown(panel, shape):
    before = readout(panel)
    panel.controls["reward"].value = shape
    check(panel, 0.6, shape, 8.0)
    assert readout(panel)["reward_bon"] != before["reward_bon"]


def test_ties_lower_the_kl_below_the_bound(panel):
    panel.controls["reward"].value = "steps"
    panel.controls["n"].value = 256.0
    got = readout(panel)
    assert got["kl"] < got["bound"] - 1.0  # five tied levels: KL saturates near -log pi_ref(top level)


def test_bad_reward_shape_is_rejected():
    with pytest.raises(ValueError, match="reward"):
        bon_panel(reward="cubic")
