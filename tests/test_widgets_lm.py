"""Notebook 06's panel: every slider callback changes the readout, the plotted data and the next config."""
import math

import pytest

from bondlab.theory import bon_kl_bound
from bondlab.widgets.lm import jbond_panel


def fake_data():
    methods = {"ref": {"reward": 0.1, "kl": 0.0}}
    for n, r in ((2, 0.3), (4, 0.5), (8, 0.7), (16, 0.8)):
        methods[f"bon_{n}"] = {"reward": r, "kl": float(bon_kl_bound(n))}
    methods["jbond"] = {"reward": 0.72, "kl": 1.9}
    history = {"jbond": {"kl": [0.0, 1.0, 1.9], "reward": [0.1, 0.5, 0.72]},
               "reinforce_0.1": {"kl": [0.0, 0.8], "reward": [0.1, 0.6]}}
    return {"methods": methods, "history": history}


def cell(panel, key):
    html = panel.readout.value
    start = html.index(f'id="{key}"')
    return html[html.index(">", start) + 1:html.index("</td>", start)]


def lines(panel):
    return {l.get_label(): l for l in panel.fig.axes[0].get_lines()}


def test_target_n_moves_the_bound_line_and_the_readout():
    panel = jbond_panel(fake_data())
    assert cell(panel, "bon_reward") == "0.700"
    png = panel.image.value
    panel.controls["target_n"].value = 16
    assert float(cell(panel, "quantile_target")) == pytest.approx(16 / 17, abs=1e-4)
    assert float(cell(panel, "kl_bound")) == pytest.approx(math.log(16) - 15 / 16, abs=1e-4)
    assert cell(panel, "bon_reward") == "0.800"
    line = lines(panel)["KL bound at the target N"]
    assert "N=16" in panel.fig.axes[0].get_title()
    assert line.get_xdata()[0] == pytest.approx(float(bon_kl_bound(16)))
    assert panel.state["config"].target_n == 16
    assert panel.image.value != png
    panel.controls["target_n"].value = 2 ** 2.5
    assert cell(panel, "bon_reward") == "not run"


def test_plotted_trajectories_are_the_data():
    panel = jbond_panel(fake_data())
    ls = lines(panel)
    assert list(ls["jbond"].get_xdata()) == [0.0, 1.0, 1.9]
    assert list(ls["reinforce_0.1"].get_ydata()) == [0.1, 0.6]
    assert list(ls["BoN"].get_ydata()) == [0.1, 0.3, 0.5, 0.7, 0.8]


@pytest.mark.parametrize("key, value, readout_key, text", [
    ("beta", 0.0, "objective", "forward only"), ("beta", 1.0, "objective", "backward only"),
    ("beta", 0.25, "objective", "0.75 forward + 0.25 backward"), ("eta", 0.1, "anchor", "~10 steps"),
    ("gamma", 2.0, "gamma", "2 &middot;"), ("lr", 1e-3, "lr", "1.0e-03")])
def test_each_slider_updates_readout_and_config(key, value, readout_key, text):
    panel = jbond_panel(fake_data())
    panel.controls[key].value = value
    assert text in cell(panel, readout_key)
    assert getattr(panel.state["config"], key) == pytest.approx(value)


def test_bad_data_is_refused():
    with pytest.raises(ValueError, match="data"):
        jbond_panel({"methods": {}})
