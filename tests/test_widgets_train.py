"""Notebook 06's training button: a click trains with the sliders' config at that moment, shows one line of
results (or the error), and the trained run is kept; nothing trains before the click."""
import pytest

from bondlab.lm.jbond import JBondConfig
from bondlab.widgets.lm import jbond_panel
from bondlab.widgets.train import jbond_train_button, train_button
from micro_helpers import TOK, micro_gpt, reward_fn
from test_widgets_lm import fake_data


def test_a_click_runs_train_once_and_shows_its_result():
    calls = []
    box = train_button(lambda: calls.append(1) or len(calls), describe=lambda r: f"run {r} done")
    assert calls == [] and box.status.value == ""
    box.click()
    assert calls == [1] and box.state["result"] == 1 and box.status.value == "run 1 done"
    assert not box.button.disabled
    box.click()
    assert box.state["result"] == 2


def test_a_failing_run_is_reported_in_the_panel_not_raised():
    def train():
        raise ValueError("lr must be > 0, got -1")
    box = train_button(train)
    box.click()
    assert "ValueError: lr must be &gt; 0" in box.status.value and "result" not in box.state
    assert isinstance(box.state["error"], ValueError) and not box.button.disabled


def test_jbond_button_trains_with_the_sliders_config_at_click_time():
    panel = jbond_panel(fake_data(), base=JBondConfig(max_steps=2, batch_prompts=4, eval_every=1,
                                                      max_new_tokens=6, warmup=0))
    box = jbond_train_button(panel, micro_gpt(0), TOK, [""], reward_fn)
    panel.controls["beta"].value = 0.0
    panel.controls["gamma"].value = 2.0
    box.click()
    run = box.state["result"]
    assert run.config["beta"] == 0.0 and run.config["gamma"] == 2.0
    assert run.stop_reason == "max_steps" and run.steps == 2
    assert box.status.value.startswith("stopped: max_steps after 2 steps")


@pytest.mark.parametrize("args, err", [((None,), TypeError), ((print, 3), TypeError)])
def test_bad_arguments(args, err):
    with pytest.raises(err, match="train|describe"):
        train_button(*args)


def test_jbond_button_needs_the_panel():
    with pytest.raises(ValueError, match="panel"):
        jbond_train_button(object(), None, TOK, [""], reward_fn)


def test_a_failing_run_is_reported_under_ipython_too():
    """Inside a kernel, ipywidgets' Output swallows an exception raised in its ``with`` block; the button
    must still report the error rather than read a result that was never made."""
    from IPython import get_ipython
    from IPython.core.interactiveshell import InteractiveShell
    shell = get_ipython() or InteractiveShell.instance()   # the one shell of this process, whichever made it
    assert shell is not None and get_ipython() is shell

    def train():
        raise ValueError("lr must be > 0, got -1")
    box = train_button(train)
    box.click()
    assert "ValueError: lr must be &gt; 0" in box.status.value and "result" not in box.state
