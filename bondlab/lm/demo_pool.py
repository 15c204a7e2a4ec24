"""Independent demo stages at once, in forked worker processes.

The REINFORCE runs of the demo (one per beta_RL) share nothing but what J-BOND left them (its counted budget),
so :func:`run_stages` can train them side by side, one core each, instead of one after the other: on the
2-core machines the course runs on, that halves the longest part of ``make demo``. Each worker is a fork of
the demo's process, so it starts with the models, the evaluation sets and J-BOND's result already in memory,
and sends back plain data (the history, the counted budget and the policy's weights). Every run draws its
numbers from its own seeded generators, so one worker or several give the same table (``tests/test_demo_pool.py``).

Where ``fork`` is not a start method of the platform, torch runs on several threads (:func:`can_fork`), or
``workers`` is 1, the stages run here, in order.
"""
from __future__ import annotations

import multiprocessing as mp
from concurrent.futures import ProcessPoolExecutor, as_completed

__all__ = ["can_fork", "run_stages", "runs_of"]

_SHARED = None     # (run, work): set just before the workers are forked, read by them


def can_fork() -> bool:
    """Whether worker processes can be forked here: the platform has the ``fork`` start method (Linux,
    macOS; not Windows) and torch runs on one thread. A process forked from one that runs torch's OpenMP
    pool can hang in its first parallel region (GNU OpenMP is not fork-safe); with one thread torch opens no
    parallel region, and a run that already uses several threads has no idle core to give a worker anyway."""
    import torch
    return "fork" in mp.get_all_start_methods() and torch.get_num_threads() == 1


def runs_of(stages, kind: str) -> list:
    """``stages`` cut into consecutive groups: each run of stages of ``kind`` together, every other alone."""
    groups = []
    for stage in stages:
        if groups and stage.kind == kind and groups[-1][-1].kind == kind:
            groups[-1].append(stage)
        else:
            groups.append([stage])
    return groups


def _work(stage):
    run, work = _SHARED
    return work(run, stage, in_worker=True)


def run_stages(run, stages, work, workers: int, on_done=None) -> list:
    """``[work(run, stage, in_worker=...) for stage in stages]``: in ``workers`` forked processes at once when
    there is more than one stage and forking is possible, else here, in order. ``work`` must return plain,
    picklable data; ``on_done(stage)`` is called as each stage finishes (to move a progress bar)."""
    global _SHARED
    workers = max(1, min(int(workers), len(stages)))
    if workers == 1 or not can_fork():
        out = []
        for stage in stages:
            out.append(work(run, stage, in_worker=False))
            if on_done is not None:
                on_done(stage)
        return out
    _SHARED = (run, work)
    try:
        with ProcessPoolExecutor(workers, mp_context=mp.get_context("fork")) as pool:
            futures = {pool.submit(_work, stage): i for i, stage in enumerate(stages)}
            out = [None] * len(stages)
            for f in as_completed(futures):
                i = futures[f]
                out[i] = f.result()
                if on_done is not None:
                    on_done(stages[i])
        return out
    finally:
        _SHARED = None
