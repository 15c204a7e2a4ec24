"""Notebook 06's training cell as a button: training starts when a person asks for it, never when the
notebook is run top to bottom, and shows the trainer's own tqdm.auto progress bar (its total is the step
budget) in the button's output area, then one line of results.

``train_button(train, describe)`` is generic: ``train()`` runs and returns a result, ``describe(result)`` is
the line shown after it. ``jbond_train_button`` wires it to :func:`bondlab.lm.jbond.train_jbond` with the
config that notebook 06's slider panel (:func:`bondlab.widgets.lm.jbond_panel`) holds at the time of the click.
"""
from __future__ import annotations

import html
from dataclasses import dataclass, field

import ipywidgets as W

__all__ = ["TrainButton", "train_button", "jbond_train_button", "describe_jbond"]


@dataclass
class TrainButton:
    """``button`` starts ``train``; its progress bar and any output go to ``output``; ``status`` gives the
    last result's line (or the error); ``state["result"]`` holds the last result. ``widget`` is displayed."""
    button: W.Button
    output: W.Output
    status: W.HTML
    widget: W.VBox
    state: dict = field(default_factory=dict)

    def click(self) -> None:
        """What a click does (tests and scripts call it directly)."""
        self.button.click()


def train_button(train, describe=str, description: str = "train") -> TrainButton:
    """A button that runs ``train()`` (disabled while it runs) and shows ``describe(result)``."""
    if not callable(train):
        raise TypeError(f"train must be callable, got {type(train).__name__}")
    if not callable(describe):
        raise TypeError(f"describe must be callable, got {type(describe).__name__}")
    button = W.Button(description=description, button_style="primary", icon="play")
    output, status = W.Output(), W.HTML()
    box = TrainButton(button, output, status, W.VBox([button, output, status]))

    def on_click(_):
        button.disabled = True
        status.value = "training…"
        output.clear_output()
        error = None
        try:
            with output:   # tqdm.auto draws its bar here
                try:       # caught inside: under IPython, Output.__exit__ would swallow the exception itself
                    box.state["result"] = train()
                except Exception as e:   # the notebook keeps running; the error is shown where the person looks
                    error = e
        finally:
            button.disabled = False
        if error is not None:
            box.state.pop("result", None)
            box.state["error"] = error
            status.value = f"<b>training failed:</b> {html.escape(f'{type(error).__name__}: {error}')}"
        else:
            box.state.pop("error", None)
            status.value = html.escape(describe(box.state["result"]))

    button.on_click(on_click)
    return box


def describe_jbond(run) -> str:
    """The line notebook 06 printed after training: why it stopped, steps, time, and the last evaluation."""
    last = run.history[-1] if run.history else {}
    tail = "; ".join(f"{k} {last[k]:.3f}" for k in ("quantile", "kl", "reward") if k in last)
    return f"stopped: {run.stop_reason} after {run.steps} steps, {run.train_s:.0f} s" + (f"; {tail}" if tail else "")


def jbond_train_button(panel, ref, tokenizer, prompt_pool, reward_fn, *, evaluate=None,
                       description: str = "train J-BOND") -> TrainButton:
    """Train J-BOND from ``ref`` with ``panel.state["config"]`` (the sliders' config when clicked);
    the trained run is ``state["result"]`` (a :class:`bondlab.lm.jbond.TrainResult`)."""
    if "config" not in getattr(panel, "state", {}):
        raise ValueError("panel must be notebook 06's jbond_panel (its state holds the J-BOND config)")
    from ..lm.jbond import train_jbond

    def train():
        return train_jbond(ref, tokenizer, prompt_pool, reward_fn, panel.state["config"], evaluate=evaluate)

    return train_button(train, describe_jbond, description)
