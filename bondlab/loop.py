"""The one training loop, for every algorithm at every scale, with the variable parts passed in.

    run_loop(step, max_steps=..., evaluate=..., eval_every=..., stop=StopRule(...), budget_s=..., on_step=...)

- ``step(s) -> dict``: optimizer step ``s`` (counted from 1): sample, loss, update, move the anchor. It
  returns at least ``{"loss": float}`` and any training-side numbers (the batch's reward, ...). The toy
  trainers, the tiny GPT's J-BOND and REINFORCE and the Hugging Face trainer each pass their own step;
  gathering across processes happens inside the step and the evaluation they pass
  (:mod:`bondlab.hf.train`).
- ``evaluate(s) -> dict``: the evaluation after step ``s`` (and at step 0 when ``eval_at_start``); the
  stop rule reads its ``"quantile"`` and ``"kl"``.
- ``stop``: :class:`StopRule`, the principled stop of Sessa et al. (2024, Sec. 6), written once: the mean
  reference quantile reaches N/(N+1) (Best-of-N's value for continuous rewards), or the KL to pi_ref
  exceeds a budget.
- ``budget_s``: stop once this many seconds of training steps (evaluations excluded) are spent.
- ``record_wall=False`` leaves the seconds out of the records (a resumed run must give the same history).
- ``on_step(s, rec)``: called after every step (``rec`` is the step's record, or None when it was not
  evaluated), e.g. to write a checkpoint.

The history is a list of records, one per evaluation: ``{"step", "wall_s", "loss", **step's dict,
**evaluation}``; the loop shows a tqdm bar over the steps with the quantile and KL of the last evaluation.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from tqdm.auto import tqdm

from .configs import quantile_target, real

__all__ = ["StopRule", "LoopResult", "run_loop"]


@dataclass(frozen=True)
class StopRule:
    """Stop when ``rec["quantile"] >= target_q`` ("target") or ``rec["kl"] >= kl_budget`` ("kl_budget")."""
    target_q: float | None = None     # the quantile to reach, N/(N+1) for a target N (None: no such stop)
    kl_budget: float | None = None    # KL(pi || pi_ref) per sequence that ends training (None: no such stop)

    @classmethod
    def of(cls, cfg) -> "StopRule":
        """The rule a config asks for: ``target_n`` and ``kl_budget`` where it has them, nothing with
        ``keep_going``."""
        if getattr(cfg, "keep_going", False):
            return cls()
        n = getattr(cfg, "target_n", None)
        budget = getattr(cfg, "kl_budget", None)
        return cls(None if n is None else quantile_target(n), None if budget is None else real(0).check("kl_budget", budget))

    def __call__(self, rec: dict) -> str | None:
        if self.target_q is not None and rec.get("quantile") is not None and rec["quantile"] >= self.target_q:
            return "target"
        if self.kl_budget is not None and rec.get("kl") is not None and rec["kl"] >= self.kl_budget:
            return "kl_budget"
        return None


@dataclass
class LoopResult:
    history: list                 # one record per evaluation
    stop_reason: str              # "target", "kl_budget", "budget_s" or "max_steps"
    steps: int                    # the last optimizer step taken (counting the steps before ``start``)
    train_s: float                # seconds spent in training steps (evaluations excluded), from ``train_s``
    last: dict = field(default_factory=dict)   # the last step's dict


def _postfix(rec: dict) -> dict:
    out = {}
    for key, short, fmt in (("quantile", "q", ".3f"), ("kl", "kl", ".2f")):
        v = rec.get(key)
        if isinstance(v, (int, float)):
            out[short] = format(v, fmt)
    return out


def run_loop(step, *, max_steps: int, evaluate=None, eval_every: int = 1, stop: StopRule | None = None,
             budget_s: float | None = None, on_step=None, start: int = 0, history: list | None = None,
             eval_at_start: bool = True, record_wall: bool = True, progress: bool = True, desc: str = "training",
             leave: bool = False, postfix=_postfix, train_s: float = 0.0) -> LoopResult:
    """Run optimizer steps ``start + 1 .. max_steps`` (see the module doc); returns a :class:`LoopResult`.
    ``train_s``: training seconds already spent (a continued run counts on from them)."""
    history = [] if history is None else history
    stop = stop or StopRule()
    loss_v, reason, s, out = float("nan"), "max_steps", start, {}

    def record(s: int, extra: dict) -> dict:
        rec = {"step": s, "wall_s": train_s, "loss": loss_v, **extra} if record_wall else \
            {"step": s, "loss": loss_v, **extra}
        if evaluate is not None:
            rec.update(evaluate(s))
        history.append(rec)
        return rec

    if eval_at_start and start == 0:
        record(0, {})
    bar = tqdm(range(start + 1, max_steps + 1), desc=desc, disable=not progress, leave=leave)
    for s in bar:
        t0 = time.perf_counter()
        out = step(s)
        train_s += time.perf_counter() - t0
        loss_v = float(out.get("loss", math.nan))
        out_of_time = budget_s is not None and train_s >= budget_s
        rec = None
        if s % eval_every == 0 or s == max_steps or out_of_time:
            rec = record(s, {k: v for k, v in out.items() if k != "loss"})
            if postfix is not None:
                bar.set_postfix(**postfix(rec))
            why = stop(rec)
            if why:
                reason = why
                break
        if on_step is not None:
            on_step(s, rec)
        if out_of_time:
            reason = "budget_s"
            break
    bar.close()
    return LoopResult(history, reason, max(s, start), train_s, out)
