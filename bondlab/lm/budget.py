"""Budgets in deterministic units: policy samples drawn and reward-model calls, counted as they happen.

Seconds depend on the machine and its load; the number of completions a trainer samples and the number of
texts it sends to the reward model do not. The demo compares methods at equal counts and reports the
seconds next to them.

* :class:`CountingReward` wraps a text reward (list of strings -> array) and counts the texts it scored.
* :class:`SampleCounter` counts the completions :meth:`bondlab.lm.GPT.generate` returns while it is active
  (it wraps that method on the class for the duration of a ``with`` block and restores it on exit), in all
  (``samples``) and per model (``of(model)``), except inside ``paused()``: the demo pauses it during
  evaluations, which are not part of a method's budget.

Counted this way, J-BOND draws K policy samples and 2K anchor samples per prompt per step and scores all
of them: its *policy samples* (``of(policy)``) are K per prompt, its reward calls 3K; REINFORCE draws and
scores ``samples_per_prompt`` per prompt per step, all from the policy; Best-of-N draws and scores N
per prompt from pi_ref. The counts are read from what the trainers actually call, not from these formulas
(``tests/test_demo_budget.py`` checks that the two agree).
"""
from __future__ import annotations

import functools
from contextlib import contextmanager
from dataclasses import replace

from .model import GPT

__all__ = ["CountingReward", "SampleCounter", "reinforce_budget"]


class CountingReward:
    """A text reward that counts what it scores: ``texts`` (texts scored) and ``calls`` (calls made)."""

    def __init__(self, fn):
        if not callable(fn):
            raise ValueError(f"fn must be a reward callable (list of strings -> array), got {type(fn).__name__}")
        self.fn, self.texts, self.calls = fn, 0, 0

    def __call__(self, texts):
        texts = list(texts)
        self.texts += len(texts)
        self.calls += 1
        return self.fn(texts)


class SampleCounter:
    """``with SampleCounter() as c:`` counts in ``c.samples`` the completions (rows) every GPT.generate call
    returns inside the block, and in ``c.of(model)`` those one model drew; ``with c.paused():`` excludes a
    part of it. Counters may nest (each counts)."""

    def __init__(self):
        self._by_model = {}   # id(model) -> completions it drew (the models live as long as the run)
        self._paused = 0
        self._saved = None

    @contextmanager
    def paused(self):
        self._paused += 1
        try:
            yield self
        finally:
            self._paused -= 1

    @property
    def samples(self) -> int:
        """Every completion drawn while counted, by any model."""
        return sum(self._by_model.values())

    def of(self, model) -> int:
        """The completions ``model`` (a GPT) drew while counted."""
        return self._by_model.get(id(model), 0)

    def __enter__(self) -> "SampleCounter":
        if self._saved is not None:
            raise RuntimeError("a SampleCounter cannot be entered twice at once")
        inner = self._saved = GPT.__dict__["generate"]
        counter = self

        @functools.wraps(inner)
        def generate(model, prompts, *args, **kw):
            out = inner(model, prompts, *args, **kw)
            if not counter._paused:
                rows = int(out[0].shape[0])                                          # (B, T) completions drawn
                counter._by_model[id(model)] = counter._by_model.get(id(model), 0) + rows
            return out

        GPT.generate = generate
        return self

    def __exit__(self, *exc) -> None:
        GPT.generate, self._saved = self._saved, None


def reinforce_budget(cfg, rcfg, jbond_steps: int, jbond_s: float, *, policy_samples: int = 0,
                     reward_calls: int = 0):
    """The ReinforceConfig ``rcfg`` given J-BOND's budget in the unit ``cfg.budget`` (a DemoConfig's): as many
    steps as fit in J-BOND's counted ``policy_samples`` (``budget="samples"``) or ``reward_calls``
    (``"reward_calls"``), at least one (a REINFORCE step draws and scores batch_prompts x samples_per_prompt
    completions); J-BOND's number of steps (``"steps"``); or its training seconds (``"wall"``, at most
    max(its max_steps, 50 x J-BOND's steps))."""
    if cfg.budget == "wall":
        return replace(rcfg, budget_s=jbond_s, max_steps=max(rcfg.max_steps, 50 * jbond_steps))
    if cfg.budget == "steps":
        return replace(rcfg, budget_s=None, max_steps=jbond_steps)
    units = policy_samples if cfg.budget == "samples" else reward_calls
    return replace(rcfg, budget_s=None, max_steps=max(1, units // (rcfg.batch_prompts * rcfg.samples_per_prompt)))
