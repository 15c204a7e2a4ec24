"""Slider callbacks of notebook 03's and 05's panels: set each control's value, check readout and plotted data."""
import re

import numpy as np
import pytest

import bondlab as B
from bondlab.widgets.distill import bimodal_space, distill_panel
from bondlab.widgets.iterative import iterative_panel



def cell(panel, key):
    m = re.search(rf'id="{key}"[^>]*>([^<]*)<', panel.readout.value)
    assert m, key
    return m.group(1)


def fit_lines(panel):
    """The fitted-policy lines of the first axes (after the pi_ref line), as arrays."""
    return [np.asarray(line.get_ydata()) for line in panel.fig.axes[0].lines[1:]]


@pytest.fixture(scope="module")
def dpanel():
    return distill_panel(steps=60)


def test_distill_panel_draws_the_fits_it_reports(dpanel):
    fits = dpanel.state["fits"]
    for line, obj in zip(fit_lines(dpanel), ("forward", "backward", "jeffreys")):
        np.testing.assert_allclose(line, fits[obj])
    h = dpanel.state["histories"]["backward"]
    assert float(cell(dpanel, "backward_entropy")) == pytest.approx(h["entropy"][-1], abs=1e-4)
    assert float(cell(dpanel, "target_entropy")) == pytest.approx(B.entropy(dpanel.state["target"]), abs=1e-4)
    assert dpanel.image.value[:4] == b"\x89PNG"


def test_distill_beta_slider_changes_only_the_jeffreys_fit(dpanel):
    before = fit_lines(dpanel)
    old = cell(dpanel, "jeffreys_fwd")
    dpanel.controls["beta"].value = 0.95
    after = fit_lines(dpanel)
    np.testing.assert_allclose(after[0], before[0])          # forward does not depend on beta
    assert np.abs(after[2] - before[2]).max() > 1e-4 and cell(dpanel, "jeffreys_fwd") != old
    assert "β=0.95" in dpanel.fig.axes[0].get_title()


def test_distill_n_weight_family_sliders(dpanel):
    dpanel.controls["n"].value = 8
    np.testing.assert_allclose(dpanel.state["target"], B.bon_probs(dpanel.state["space"].ref_probs,
                                                                    dpanel.state["space"].rewards, 8))
    dpanel.controls["weight"].value = 0.8
    np.testing.assert_allclose(dpanel.state["space"].ref_probs, bimodal_space(0.8).ref_probs)
    dpanel.controls["family"].value = "tabular"
    # a tabular policy can match the target: the forward fit is close to it, and the readout says so
    assert float(cell(dpanel, "forward_fwd")) < 0.05
    np.testing.assert_allclose(fit_lines(dpanel)[0], dpanel.state["fits"]["forward"])


@pytest.fixture(scope="module")
def ipanel():
    return iterative_panel(period=40, jbond_steps=60)


def test_iterative_panel_readout_and_markers(ipanel):
    assert cell(ipanel, "it_bon_n") == "2, 4, 8"
    hi = ipanel.state["iterative"]
    assert float(cell(ipanel, "it_quantile")) == pytest.approx(hi["quantile"][-1], abs=1e-4)
    np.testing.assert_allclose(ipanel.fig.axes[0].lines[0].get_ydata(), hi["quantile"])
    sp = ipanel.state["space"]
    marks = sorted(l.get_ydata()[0] for l in ipanel.fig.axes[0].lines[1:] if len(l.get_ydata()) == 2)
    np.testing.assert_allclose(marks, [B.bon_expected_quantile(sp.ref_probs, sp.rewards, n) for n in (2, 4, 8)])


def test_iterative_sliders(ipanel):
    ipanel.controls["n"].value = 3
    assert cell(ipanel, "it_bon_n") == "3, 9, 27"
    ipanel.controls["period"].value = 20
    assert len(ipanel.state["iterative"]["quantile"]) == 60
    ipanel.controls["mode"].value = "ema"
    assert "EMA" in cell(ipanel, "it_bon_n")
    q_ema = ipanel.state["iterative"]["quantile"][-1]
    ipanel.controls["eta"].value = 0.01
    assert ipanel.state["iterative"]["quantile"][-1] < q_ema            # a slower anchor climbs slower
    kl0 = float(cell(ipanel, "jb_kl_anchor"))
    ipanel.controls["gamma"].value = 4.0
    assert float(cell(ipanel, "jb_kl_anchor")) < kl0                    # the regulariser holds pi near the anchor
    np.testing.assert_allclose(ipanel.fig.axes[2].lines[0].get_ydata(), ipanel.state["jbond"]["kl_anchor"])
    q = ipanel.state["jbond"]["quantile"][-1]
    ipanel.controls["beta"].value = 0.0                                 # forward only: no reward push
    assert ipanel.state["jbond"]["quantile"][-1] != q
