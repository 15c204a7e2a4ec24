"""The demo's output: the text tables and the figures + JSON of a :func:`bondlab.lm.demo.run_demo` result.

Everything here reads ``result.data`` (plain data: ``config``, ``methods``, ``history`` and optional ``exact``)
and nothing else, so a saved demo JSON can be reprinted or replotted without rerunning the demo.
"""
from __future__ import annotations

import pathlib

from ..outputs import save_figure, write_json

__all__ = ["format_table", "front_table", "best_reward_within", "write_outputs"]


def _ci(v, ci, digits: int = 3) -> str:
    """'0.706 [0.661, 0.752]'; 'analytic' where the value is exact (ci None), '-' where there is no value."""
    if v is None:
        return "-"
    if ci is None:
        return f"{v:.{digits}f} (analytic)"
    lo, hi = (f"{b:.{digits}f}" if b is not None else "?" for b in ci)
    return f"{v:.{digits}f} [{lo}, {hi}]"


def _count(v) -> str:
    return f"{v:d}" if v else "-"


def format_table(data: dict) -> str:
    """The methods as a fixed-width text table: report-set values with their 95% intervals, the training
    budget counted in policy samples and reward-model calls, and seconds."""
    head = (f"{'method':<16}{'reward [95% CI]':<24}{'KL [95% CI]':<24}{'quantile [95% CI]':<24}{'proxy':>7}"
            f"{'end':>6}{'len':>6}{'samples':>9}{'RM calls':>9}{'wall s':>8}{'N/prompt':>9}")
    lines = [head, "-" * len(head)]
    for name, m in data["methods"].items():
        proxy = m.get("proxy_reward")
        lines.append(f"{name:<16}{_ci(m['reward'], m.get('reward_ci')):<24}{_ci(m['kl'], m.get('kl_ci')):<24}"
                     f"{_ci(m['quantile'], m.get('quantile_ci')):<24}"
                     f"{(proxy if proxy is not None else float('nan')):>7.3f}{m.get('end_frac', float('nan')):>6.2f}"
                     f"{m.get('length', float('nan')):>6.1f}{_count(m.get('policy_samples')):>9}"
                     f"{_count(m.get('reward_calls')):>9}{m['wall_s']:>8.1f}{m['samples_per_prompt']:>9d}")
    cfg = data.get("config", {})
    lines.append(f"reported on {cfg.get('eval_prompts', '?')} report prompts (95% percentile bootstrap over them); "
                 f"stop and checkpoint choices on {cfg.get('select_prompts', '?')} other selection prompts. samples: "
                 "completions the trained policy drew; RM calls: texts scored in training (J-BOND's include two "
                 "anchor samples per policy sample); Best-of-N draws and scores N per prompt at inference "
                 f"(N/prompt). REINFORCE budget: J-BOND's {cfg.get('budget', '?')}.")
    if "front" in data:
        lines += ["", front_table(data)]
    j = data["methods"].get("jbond")
    if j is not None:
        lines.append(f"J-BOND stop: {j['stop_reason']} after {j['steps']} steps; quantile "
                     f"{_ci(j['quantile'], j.get('quantile_ci'))} (selection set {j.get('select_quantile', float('nan')):.3f}, "
                     f"target {j['quantile_target']:.3f} for N={j['target_n']:g}); KL {_ci(j['kl'], j.get('kl_ci'))} = "
                     f"{_ci(j['kl_over_bound'], j.get('kl_over_bound_ci'), 2)} x the Best-of-{j['target_n']:g} bound "
                     f"{j['kl_bound']:.3f}")
        if j.get("reward_minus_bon") is not None:
            lines.append(f"J-BOND reward minus Best-of-{j['target_n']:g} reward on the same report prompts: "
                         f"{_ci(j['reward_minus_bon'], j.get('reward_minus_bon_ci'))} (paired bootstrap)")
    return "\n".join(lines)


def best_reward_within(history: dict, kl: float) -> float | None:
    """The highest mean gold reward a trajectory reached at an evaluation with KL(pi || pi_ref) <= ``kl``
    (its reward/KL front at that KL, read on one set of prompts), or None if no evaluation was that close to
    pi_ref. The demo's front (``data["front"]``, :func:`bondlab.lm.demo_eval.front`) chooses on the selection
    set instead and carries intervals."""
    r = [ri for ri, ki in zip(history["reward"], history["kl"]) if ki <= kl]
    return max(r) if r else None


def _front_cell(p) -> str:
    if p is None:
        return f"{'-':<26}"
    lo, hi = (f"{b:.2f}" if b is not None else "?" for b in (p.get("reward_ci") or (None, None)))
    ci = f"[{lo},{hi}]" if p.get("reward_ci") is not None else "(exact KL)"
    return f"{p['reward']:.3f} {ci} @{p['kl']:.2f}".ljust(26)


def front_table(data: dict) -> str:
    """Best gold reward within each KL budget, per trained method (the checkpoint chosen on the selection
    set, its report reward with a 95% interval that resamples the choice too, @ its report KL), next to
    Best-of-N at its analytic KL: who holds the better reward/KL front, and where."""
    f = data["front"]
    lines = ["best gold reward within KL <= k  (reward [95% CI] @ KL)",
             f"  {'':<24}" + "".join(f"{'k = ' + format(k, 'g'):<26}" for k in f["kls"])]
    for name, pts in f["methods"].items():
        lines.append(f"  {name:<24}" + "".join(_front_cell(p) for p in pts))
    lines.append(f"  {'Best-of-N (analytic KL)':<24}" + "".join(_front_cell(p) for p in f["best_of_n"]))
    return "\n".join(lines)


def write_outputs(data: dict, out_dir, json_path=None) -> list[pathlib.Path]:
    """Save the reward-vs-KL figure and the training curves (PNG) in ``out_dir``, and the JSON at
    ``json_path`` when given. Returns the written paths."""
    from matplotlib.figure import Figure
    from ..plots.lm import plot_exact_tracking, plot_reward_vs_kl, plot_training_curve
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    fig = Figure(figsize=(7, 4.8), layout="constrained")
    plot_reward_vs_kl(data, ax=fig.subplots())
    paths.append(save_figure(fig, out / "reward_vs_kl.png", dpi=110))
    fig = Figure(figsize=(13, 3.8), layout="constrained")
    axes = fig.subplots(1, 4)
    q = data["config"]["quantile_target"]
    # against the counted budget where every history has it (the same for the same seed), else seconds
    counted = all(None not in h.get("policy_samples", [None]) for h in data["history"].values())
    x = "policy_samples" if counted else "wall_s"
    plot_training_curve(data, "quantile", x, ax=axes[0], target=q)
    for ax, metric in zip(axes[1:], ("reward", "kl", "end_frac")):
        plot_training_curve(data, metric, x, ax=ax)
    paths.append(save_figure(fig, out / "training_curves.png", dpi=100))
    if "exact" in data:
        fig = Figure(figsize=(11, 3.8), layout="constrained")
        a, b = fig.subplots(1, 2)
        plot_exact_tracking(data["exact"], "backward", ax=a)
        plot_exact_tracking(data["exact"], "forward", ax=b)
        paths.append(save_figure(fig, out / "exact_micro.png", dpi=100))
    if json_path is not None:
        jp = pathlib.Path(json_path)
        jp.parent.mkdir(parents=True, exist_ok=True)
        paths.append(write_json(jp, data))
    return paths
