"""The demo's evaluations: one set of prompts for *selection*, another for the *report*.

The stop rule and every checkpoint choice read the selection set; every number the demo prints, plots or
writes comes from the report set. The two differ in everything random: their prompt draws (independent
draws from the prompt openings), their reference pools (each its own pi_ref samples, so a pool that happens
to make quantiles high cannot both trigger the stop and confirm it) and their torch generators. Without
that split, a run stops when the noise of its evaluation happens to favour it, and the same noise is then
reported (a winner's bias of about the evaluation's standard error).

Each evaluation keeps its per-prompt values (:func:`bondlab.lm.metrics.evaluate_per_prompt`), so the
report carries 95% bootstrap intervals (:mod:`bondlab.intervals`): a history's checkpoints are resampled
jointly, and the front "best reward within KL <= k" chooses its checkpoint on the selection set and reads
it on the report set, both resampled in every replicate.

Why both sets are evaluated inside the trainers' ``evaluate`` callback (rather than the report set
afterwards, on saved checkpoints): the trainers' contract stays ``evaluate(policy) -> dict``, with the
selection means at the top level where their stop rule reads ``quantile`` and ``kl``, and the per-prompt
arrays of both sets under ``"select"`` and ``"report"``; no policy copies are kept, and a record holds its
report numbers the moment it is made (the keep-going stage and notebook callers need nothing else). The
cost is the same as evaluating saved checkpoints afterwards.
"""
from __future__ import annotations

import zlib
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np
import torch

from ..intervals import Interval, front_intervals, history_intervals, joint_mean_intervals
from .corpus import PROMPT_OPENINGS
from .metrics import EVAL_KEYS, RefPool, evaluate_per_prompt, ref_pool, summarize

__all__ = ["EvalSet", "eval_sets", "TwoSetEvaluator", "INTERVAL_KEYS", "interval_rng", "history_columns",
           "per_prompt_history", "entry_from_history", "interval_fields", "best_of_n_report", "front"]

INTERVAL_KEYS = ("reward", "kl", "quantile")   # the values reported with 95% bootstrap intervals


@dataclass(frozen=True)
class EvalSet:
    """One evaluation set: prompt texts, the reference pool its quantiles read, and the seed of the torch
    generator every evaluation on it starts from (common random numbers across checkpoints)."""
    name: str
    texts: list
    pool: RefPool
    seed: int


def eval_sets(ref, tokenizer, gold, *, seed: int, report_prompts: int, select_prompts: int, ref_k: int,
              max_new_tokens: int) -> tuple[EvalSet, EvalSet]:
    """(selection set, report set). The report prompts are drawn first from ``default_rng(seed)`` (the demo's
    former single evaluation set), the selection prompts next; pools from torch seeds seed+1 (report) and
    seed+6 (selection); evaluation generators seed+3 (report) and seed+5 (selection)."""
    rng = np.random.default_rng(seed)
    report = [PROMPT_OPENINGS[i] for i in rng.integers(len(PROMPT_OPENINGS), size=report_prompts)]
    select = [PROMPT_OPENINGS[i] for i in rng.integers(len(PROMPT_OPENINGS), size=select_prompts)]
    pools = [ref_pool(ref, tokenizer, PROMPT_OPENINGS, gold, ref_k, torch.Generator().manual_seed(seed + s),
                      max_new_tokens) for s in (6, 1)]
    return EvalSet("select", select, pools[0], seed + 5), EvalSet("report", report, pools[1], seed + 3)


class TwoSetEvaluator:
    """``evaluate(policy) -> dict`` for the trainers: the selection set's means of EVAL_KEYS at the top level
    (the stop rule reads ``quantile`` and ``kl``), the report set's sample texts, and the per-prompt arrays
    of both sets under ``"select"`` and ``"report"``. ``counter`` (a :class:`bondlab.lm.budget.SampleCounter`)
    is paused during the evaluation (its samples are not part of a method's budget), and the record carries
    the budget spent so far: ``policy_samples`` (the completions the evaluated policy itself drew),
    ``samples_drawn`` (every completion, J-BOND's anchor samples included) and ``reward_calls`` (``reward``, a
    :class:`bondlab.lm.budget.CountingReward`), where they are set."""

    def __init__(self, ref, tokenizer, gold, proxy, select: EvalSet, report: EvalSet, max_new_tokens: int):
        self.ref, self.tokenizer, self.gold, self.proxy = ref, tokenizer, gold, proxy
        self.select, self.report, self.max_new_tokens = select, report, max_new_tokens
        self.counter = self.reward = None

    def per_prompt(self, policy, eval_set: EvalSet) -> dict:
        return evaluate_per_prompt(policy, self.ref, self.tokenizer, eval_set.texts, self.gold, self.proxy,
                                   eval_set.pool, torch.Generator().manual_seed(eval_set.seed), self.max_new_tokens)

    def __call__(self, policy) -> dict:
        with self.counter.paused() if self.counter is not None else nullcontext():
            sel, rep = self.per_prompt(policy, self.select), self.per_prompt(policy, self.report)
        rec = summarize(sel)
        rec["samples"] = rep["samples"]
        rec["select"] = {k: sel[k] for k in EVAL_KEYS if sel[k] is not None}
        rec["report"] = {k: rep[k] for k in EVAL_KEYS if rep[k] is not None}
        if self.counter is not None:
            rec["policy_samples"] = self.counter.of(policy)
            rec["samples_drawn"] = self.counter.samples
        if self.reward is not None:
            rec["reward_calls"] = self.reward.texts
        return rec


def interval_rng(seed: int, name: str) -> np.random.Generator:
    """The bootstrap generator of one method's intervals: fixed by the demo seed and the method's name, so
    adding a stage leaves the other methods' intervals unchanged."""
    return np.random.default_rng([int(seed), 11, zlib.crc32(name.encode())])


def per_prompt_history(records: list) -> dict:
    """{"select": {key: (C, Es)}, "report": {key: (C, Er)}} stacked over the C evaluation records."""
    return {s: {k: np.stack([r[s][k] for r in records]) for k in records[0][s]} for s in ("select", "report")}


def _clean(v):
    return None if isinstance(v, float) and not np.isfinite(v) else v


def history_columns(records: list, rng: np.random.Generator,
                    extra=("step", "wall_s", "loss", "policy_samples", "samples_drawn", "reward_calls")) -> dict:
    """A history as columns: ``extra`` as recorded (None where a record lacks it), the report means of EVAL_KEYS, ``<key>_lo``/``<key>_hi``
    (95% intervals, every checkpoint resampled with one set of counts) for INTERVAL_KEYS, and the selection
    means the stop rule read as ``select_<key>``."""
    pp = per_prompt_history(records)
    cols = {k: [_clean(r.get(k)) for r in records] for k in extra}
    for k in EVAL_KEYS:
        cols[k] = [float(v) for v in pp["report"][k].mean(1)] if k in pp["report"] else [None] * len(records)
    ivs = history_intervals({k: pp["report"][k] for k in INTERVAL_KEYS}, rng)
    for k, lst in ivs.items():
        cols[f"{k}_lo"], cols[f"{k}_hi"] = [iv.lo for iv in lst], [iv.hi for iv in lst]
    for k in INTERVAL_KEYS:
        cols[f"select_{k}"] = [float(v) for v in pp["select"][k].mean(1)]
    return cols


def interval_fields(key: str, iv: Interval | None) -> dict:
    """The JSON fields of one reported value: ``key`` and ``<key>_ci`` = [lo, hi] (None: not estimated)."""
    return {key: iv.estimate if iv is not None else None, f"{key}_ci": iv.as_list() if iv is not None else None}


def entry_from_history(cols: dict, record: dict, i: int = -1) -> dict:
    """A method's row from checkpoint ``i`` of its history columns (report values and intervals, the
    selection values beside them) and the texts of that evaluation record."""
    out = {}
    for k in INTERVAL_KEYS:
        out.update(interval_fields(k, Interval(cols[k][i], cols[f"{k}_lo"][i], cols[f"{k}_hi"][i])))
        out[f"select_{k}"] = cols[f"select_{k}"][i]
    for k in EVAL_KEYS:
        if k not in INTERVAL_KEYS:
            out[k] = cols[k][i]
    out["samples"] = record.get("samples", [])
    return out


@torch.no_grad()
def best_of_n_report(ref, tokenizer, report: EvalSet, gold, proxy, ns, max_new_tokens: int, generator, seed: int) -> tuple[dict, dict]:
    """Best-of-N from pi_ref on the report set for N = 1 and each of ``ns``, nested on one set of max(ns)
    candidates per prompt (Best-of-N keeps the first best of the first N). Returns ({name: entry},
    {name: per-prompt reward}) with "ref" for N = 1 and "bon_<N>"; each N's reward and quantile intervals use
    the same bootstrap counts (its KL is the analytic log N - (N-1)/N, not estimated). ``gold`` scores every
    candidate once (the demo passes a :class:`bondlab.lm.budget.CountingReward`)."""
    import time
    from ..theory import bon_kl_bound
    from .metrics import quantile_against, score, texts_of
    nmax, texts_in, E = max(ns), report.texts, len(report.texts)
    t0 = time.perf_counter()
    rows = [p for p in texts_in for _ in range(nmax)]                                   # prompt-major
    comp, mask = ref.generate(tokenizer.encode_prompts(rows), max_new_tokens, generator)       # (E nmax, T)
    texts = texts_of(tokenizer, rows, comp)
    r = score(gold, texts).reshape(E, nmax)                           # (E, nmax)
    sample_s = time.perf_counter() - t0
    rp = score(proxy, texts).reshape(r.shape) if proxy is not None else None
    length = mask.sum(1).double().numpy().reshape(r.shape)
    ended = (comp == ref.cfg.end_id).any(1).double().numpy().reshape(r.shape)
    entries, rewards, e = {}, {}, np.arange(E)
    for n in (1,) + tuple(ns):
        best = np.argmax(r[:, :n], axis=1)                                              # (E,) first best wins ties
        name = "ref" if n == 1 else f"bon_{n}"
        rb, q = r[e, best], quantile_against(report.pool, texts_in, r[e, best])
        ivs = joint_mean_intervals({"reward": rb, "quantile": q}, interval_rng(seed, "best-of-n"))
        kl = float(bon_kl_bound(n)) if n > 1 else 0.0
        entries[name] = {**interval_fields("reward", ivs["reward"]), "kl": kl, "kl_ci": None,
                         **interval_fields("quantile", ivs["quantile"]),
                         "proxy_reward": float(rp[e, best].mean()) if rp is not None else None,
                         "length": float(length[e, best].mean()), "end_frac": float(ended[e, best].mean()),
                         "samples": [texts[i * nmax + b] for i, b in enumerate(best[:4])],
                         # the cost at inference: n candidates drawn and scored per prompt (N = 1 scores none)
                         "wall_s": sample_s * n / nmax, "samples_per_prompt": n,
                         "reward_calls_per_prompt": n if n > 1 else 0, "kl_bound": kl}
        rewards[name] = rb
    return entries, rewards


def front(per_prompt: dict, data: dict, kls, seed: int) -> dict:
    """The front "best gold reward within KL <= k" for each k in ``kls``: for each trained method (its
    ``per_prompt_history`` in ``per_prompt``), the checkpoint chosen on the selection set and read on the
    report set, with intervals that resample both (:func:`bondlab.intervals.front_intervals`); for
    Best-of-N, the largest N whose analytic KL is within budget (nested candidates: the best reward)."""
    kls = [float(k) for k in kls]
    out = {"kls": kls, "methods": {}, "best_of_n": []}
    for name, pp in per_prompt.items():
        sel, rep = pp["select"], pp["report"]
        pts = front_intervals(rep["reward"], rep["kl"], kls, interval_rng(seed, f"front {name}"),
                              select_reward=sel["reward"], select_kl=sel["kl"])
        steps = data["history"][name]["step"]
        out["methods"][name] = [None if p is None else {
            **interval_fields("reward", p.reward), **interval_fields("kl", p.kl), "step": steps[p.index],
            "defined": p.defined} for p in pts]
    bons = [(m["kl"], m["reward"], name) for name, m in data["methods"].items()
            if name == "ref" or name.startswith("bon_")]
    for k in kls:
        within = [b for b in bons if b[0] <= k]
        m = data["methods"][max(within)[2]] if within else None
        out["best_of_n"].append(None if m is None else {"reward": m["reward"], "reward_ci": m["reward_ci"],
                                                        "kl": m["kl"], "kl_ci": None, "n": m["samples_per_prompt"]})
    return out
