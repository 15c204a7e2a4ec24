"""The demo's output: the text tables and the figures + JSON of a :func:`bondlab.lm.demo.run_demo` result.

Everything here reads ``result.data`` (plain data: ``config``, ``methods``, ``history`` and optional ``exact``)
and nothing else, so a saved demo JSON can be reprinted or replotted without rerunning the demo.
"""
from __future__ import annotations

import pathlib

from ..outputs import save_figure, write_json

__all__ = ["format_table", "front_table", "best_reward_within", "write_outputs"]


def format_table(data: dict) -> str:
    """The methods as a fixed-width text table."""
    head = f"{'method':<18}{'reward':>8}{'proxy':>8}{'KL':>8}{'quantile':>10}{'end':>6}{'len':>6}{'wall s':>8}{'N/prompt':>9}"
    lines = [head, "-" * len(head)]
    for name, m in data["methods"].items():
        proxy = m.get("proxy_reward")
        lines.append(f"{name:<18}{m['reward']:>8.3f}{(proxy if proxy is not None else float('nan')):>8.3f}"
                     f"{m['kl']:>8.3f}{m['quantile']:>10.3f}{m.get('end_frac', float('nan')):>6.2f}"
                     f"{m.get('length', float('nan')):>6.1f}{m['wall_s']:>8.1f}{m['samples_per_prompt']:>9d}")
    lines += ["", front_table(data)]
    j = data["methods"].get("jbond")
    if j is not None:
        lines.append(f"J-BOND stop: {j['stop_reason']} after {j['steps']} steps; quantile {j['quantile']:.3f} "
                     f"(target {j['quantile_target']:.3f} for N={j['target_n']:g}); KL {j['kl']:.3f} = "
                     f"{j['kl_over_bound']:.2f} x the Best-of-{j['target_n']:g} bound {j['kl_bound']:.3f}")
    return "\n".join(lines)


def best_reward_within(history: dict, kl: float) -> float | None:
    """The highest mean gold reward a trajectory reached at an evaluation with KL(pi || pi_ref) <= ``kl``
    (its reward/KL front at that KL), or None if no evaluation was that close to pi_ref."""
    r = [ri for ri, ki in zip(history["reward"], history["kl"]) if ki <= kl]
    return max(r) if r else None


def front_table(data: dict, kls=(0.5, 1.0, 1.5, 2.0, 3.0)) -> str:
    """Best reward within each KL budget, per trained method, next to Best-of-N at its analytic KL: who holds
    the better reward/KL front, and where."""
    lines = ["best gold reward reached within KL <= " + "  ".join(f"{k:>6g}" for k in kls)]
    for name, h in data["history"].items():
        vals = [best_reward_within(h, k) for k in kls]
        lines.append(f"  {name:<38}" + "  ".join(f"{v:>6.3f}" if v is not None else f"{'-':>6}" for v in vals))
    bon = [max((m["reward"] for k_, m in data["methods"].items() if (k_ == "ref" or k_.startswith("bon_"))
                and m["kl"] <= k), default=None) for k in kls]
    lines.append(f"  {'Best-of-N (analytic KL)':<38}" + "  ".join(f"{v:>6.3f}" if v is not None else f"{'-':>6}"
                                                              for v in bon))
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
    plot_training_curve(data, "quantile", ax=axes[0], target=q)
    plot_training_curve(data, "reward", ax=axes[1])
    plot_training_curve(data, "kl", ax=axes[2])
    plot_training_curve(data, "end_frac", ax=axes[3])
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
