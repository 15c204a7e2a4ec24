"""Notebook 04's panel: every slider changes the readout and the plotted data, as the library computes them."""
import re

import numpy as np
import pytest

from bondlab.overopt import OveroptConfig, run_overopt
from bondlab.proxy import pairwise_accuracy
from bondlab.widgets.overopt import overopt_panel


def _cell(html, key):
    m = re.search(rf'id="{key}"[^>]*>([^<]*)<', html)
    assert m, key
    return m.group(1)


def _lines(ax):
    return {l.get_label(): l for l in ax.get_lines()}


def _expected(panel):
    c = panel.controls
    w = float(c["weight"].value)
    cfg = OveroptConfig(m=int(c["m"].value), noise=float(c["noise"].value), capacity=int(c["capacity"].value),
                        weights=(w, 1 - w), seed=int(c["seed"].value), n_points=40, n_betas=40, ks=(), refine=False)
    return run_overopt(cfg, quantile=False)


def _check(panel):
    """Readout and both panels show exactly what the library computes for the current slider values."""
    res = _expected(panel)
    html = panel.readout.value
    assert _cell(html, "best_n_true") == str(res.best_n_true)
    assert _cell(html, "best_n_fit") == str(res.best_n_fit)
    assert _cell(html, "gold_true") == f"{res.extra['gold_at_best_true']:.4f}"
    assert _cell(html, "fit_bon") == f"{res.fit_bon.alpha:.3f}, {res.fit_bon.beta:.3f}"
    assert _cell(html, "flipped") == f"{int(res.proxy.flipped.sum())} of {res.config.m}"
    sp = res.space
    assert _cell(html, "accuracy") == f"{pairwise_accuracy(sp.ref_probs, sp.rewards, res.proxy.rewards):.3f}"
    ax_r, ax_c = panel.fig.axes[:2]
    a, b = res.calib
    np.testing.assert_allclose(_lines(ax_r)["proxy (gold units)"].get_ydata(), a + b * res.proxy.rewards)
    np.testing.assert_allclose(_lines(ax_r)["gold reward"].get_ydata(), sp.rewards)
    curve = _lines(ax_c)["gold, Best-of-N"]
    np.testing.assert_allclose(curve.get_xdata(), res.bon.d)
    np.testing.assert_allclose(curve.get_ydata(), res.bon.gold - res.extra["gold_ref"])
    assert panel.image.value[:4] == b"\x89PNG"
    return res


@pytest.fixture(scope="module")
def panel():
    return overopt_panel()


def test_initial_state(panel):
    assert set(panel.controls) == {"m", "noise", "capacity", "weight", "seed"}
    _check(panel)


@pytest.mark.parametrize("name, value", [("m", 30), ("noise", 0.3), ("capacity", 5), ("weight", 0.3), ("seed", 4)])
def test_each_slider_updates_readout_and_plot(panel, name, value):
    before_html = panel.readout.value
    before_proxy = _lines(panel.fig.axes[0])["proxy (gold units)"].get_ydata().copy()
    before_pi = panel.fig.axes[0].collections[0].get_paths()[0].vertices.copy()
    panel.controls[name].value = value
    res = _check(panel)
    assert panel.state["result"].config == res.config
    changed_proxy = not np.allclose(_lines(panel.fig.axes[0])["proxy (gold units)"].get_ydata(), before_proxy)
    changed_pi = not np.allclose(panel.fig.axes[0].collections[0].get_paths()[0].vertices, before_pi)
    assert panel.readout.value != before_html
    assert changed_proxy or changed_pi
    if name == "weight":
        assert changed_pi


def test_few_noisy_labels_vs_many_clean_labels_in_the_panel():
    p = overopt_panel(m=30, noise=0.3, capacity=1, seed=0)
    few = int(_cell(p.readout.value, "best_n_true"))
    assert 1 < few < 10_000
    p.controls["capacity"].value = 10
    p.controls["noise"].value = 0.0
    p.controls["m"].value = 2000
    many = int(_cell(p.readout.value, "best_n_true"))
    assert many > few
