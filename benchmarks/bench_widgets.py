"""Headless update time of every notebook panel, per control: median and worst over a few slider steps.

An update is what one slider step costs the kernel: the callback (set ``control.value``), alone ("compute")
and with the frame the browser is sent ("frame": ipympl's blitted Agg draw and PNG diff; the old panels drew
their PNG inside the callback; before the first "frame" step the background is drawn as when the page
attaches, see :func:`attached`), cold, and the same steps after the work a kernel does while idle between
steps ("idle": ``panel.idle()``, untimed, see bondlab/widgets/ahead.py). With ``--baseline REV`` the same steps run on the bondlab package of git revision REV in a subprocess of the same
run, and the table gives the ratio old / new (the machine's load is shared by both).

    .venv/bin/python benchmarks/bench_widgets.py [--quick] [--baseline HEAD~3 [--rounds 2]] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]


def fake_lm_data():
    """The shape of ``run_demo(...).data`` that notebook 06's panel reads (numbers of a small run)."""
    from bondlab.theory import bon_kl_bound
    methods = {"ref": {"reward": 0.1, "kl": 0.0}}
    for n, r in ((2, 0.3), (4, 0.5), (8, 0.7), (16, 0.8), (32, 0.85), (64, 0.9)):
        methods[f"bon_{n}"] = {"reward": r, "kl": float(bon_kl_bound(n))}
    methods["jbond"] = {"reward": 0.72, "kl": 1.9}
    history = {"jbond": {"kl": [0.0, 0.5, 1.0, 1.5, 1.9], "reward": [0.1, 0.3, 0.5, 0.65, 0.72]},
               "reinforce_0.1": {"kl": [0.0, 0.4, 0.8], "reward": [0.1, 0.4, 0.6]}}
    return {"methods": methods, "history": history}


def panels():
    """(notebook, factory) for each panel, at the sizes the notebooks use in full mode."""
    from bondlab.widgets.bon import bon_panel
    from bondlab.widgets.distill import distill_panel
    from bondlab.widgets.iterative import iterative_panel
    from bondlab.widgets.lm import jbond_panel
    from bondlab.widgets.overopt import overopt_panel
    from bondlab.widgets.quantiles import quantile_panel
    return [("01", lambda: bon_panel(n=8, weight=0.6, reward="linear")),
            ("02", lambda: quantile_panel(k=16, n=16)),
            ("03", lambda: distill_panel(steps=200)),
            ("04", lambda: overopt_panel(m=100, noise=0.1, capacity=2, weight=0.6)),
            ("05", lambda: iterative_panel(period=100, jbond_steps=200)),
            ("06", lambda: jbond_panel(fake_lm_data()))]


def steps_of(control, count: int):
    """``count`` values one slider step apart, walking up from the current value and turning at either end."""
    if hasattr(control, "options"):   # dropdown / toggle buttons: cycle through the options
        opts = [o[1] if isinstance(o, tuple) else o for o in control.options]
        i = opts.index(control.value)
        return [opts[(i + j) % len(opts)] for j in range(1, count + 1)]
    log = hasattr(control, "base")
    import math
    cur = math.log(control.value, control.base) if log else control.value
    out, sign = [], 1
    for _ in range(count):
        if not (control.min <= cur + sign * control.step <= control.max + 1e-9):
            sign = -sign
        cur += sign * control.step
        out.append(control.base ** cur if log else cur)
    return out


def run(count: int) -> dict:
    """{panel/control: {"compute": [ms], "frame": [ms], "idle": [ms]}}: ``compute`` is the callback with no page
    attached (nothing drawn); ``frame`` the callback with a page attached, so it includes the frame sent
    (ipympl's blitted draw and PNG diff), cold: nothing done between steps. The old panels drew their PNG inside
    the callback either way. ``idle`` (panels with work done ahead, ``panel.ahead``): the same steps as
    ``frame`` on a second panel taken through the same values, with what the kernel does while idle run
    (untimed) before each step: the maths and backgrounds of the next values (``panel.idle()``)."""
    out = {}
    for nb, make in panels():
        panel = make()
        twin = make() if getattr(panel, "ahead", None) is not None else None
        for name, control in panel.controls.items():
            times = {}
            for mode in ("compute", "frame"):
                values = steps_of(control, count)
                times[mode] = steps(panel, control, values, mode)
                if twin is not None:   # the same values; timed only with a page, after idle time
                    t = steps(twin, twin.controls[name], values, mode, idle=True)
                    if mode == "frame":
                        times["idle"] = t
            out[f"{nb}/{name}"] = times
    return out


def steps(panel, control, values, mode: str, idle: bool = False) -> list:
    """Set ``control`` to each of ``values``; the ms of each. ``mode`` "frame": as with a page attached. With
    ``idle`` (and a page), the panel's idle work runs before each step (untimed), as the page's idle time would."""
    canvas = panel.fig.canvas
    if hasattr(canvas, "syncing_data_url"):
        canvas.syncing_data_url = mode == "compute"   # False: as once ipympl's page is there
    if mode == "frame":
        attached(panel.fig)
    out = []
    for v in values:
        if idle and mode == "frame":
            panel.idle()
        t0 = time.perf_counter()
        control.value = v
        out.append(1e3 * (time.perf_counter() - t0))
    return out


def attached(fig) -> None:
    """What the page's arrival does before any slider step: the static background, titles and legends are
    drawn while the kernel is idle (``frames.prepare``), so no step below pays for the first whole draw.
    Revisions older than ``prepare`` drew the whole figure on their first frame."""
    try:
        from bondlab.widgets.frames import prepare
    except ImportError:
        return
    prepare(fig)


def baseline(rev: str, count: int) -> dict:
    """The same steps on bondlab as of git revision ``rev``, in a subprocess of this run."""
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "bondlab"], check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        env = dict(os.environ, PYTHONPATH=tmp, MPLBACKEND="Agg")
        res = subprocess.run([sys.executable, __file__, "--count", str(count), "--raw"], env=env, check=True,
                             capture_output=True, text=True)
        return json.loads(res.stdout.splitlines()[-1])


def _pool(into: dict, times: dict) -> None:
    for key, modes in times.items():
        for mode, ts in modes.items():
            into.setdefault(key, {}).setdefault(mode, []).extend(ts)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="3 steps per control and mode instead of 7")
    ap.add_argument("--count", type=int, default=None, help="slider steps per control")
    ap.add_argument("--baseline", metavar="REV", help="also time bondlab at git revision REV, in the same run")
    ap.add_argument("--rounds", type=int, default=1,
                    help="with --baseline: alternate old and new this many times and pool the steps (a shared machine's "
                         "load then falls on both alike)")
    ap.add_argument("--json", metavar="PATH", help="write the raw times (ms) here")
    ap.add_argument("--raw", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    count = a.count or (3 if a.quick else 7)
    if count < 1 or a.rounds < 1:
        print("bench_widgets: --count and --rounds must be >= 1", file=sys.stderr)
        return 2
    os.environ.setdefault("MPLBACKEND", "Agg")
    if a.raw:
        print(json.dumps(run(count)))
        return 0
    old, new = ({} if a.baseline else None), {}
    for r in range(a.rounds if a.baseline else 1):   # old first in even rounds, new first in odd ones
        for which in (("old", "new") if r % 2 == 0 else ("new", "old")):
            if which == "old" and a.baseline:
                _pool(old, baseline(a.baseline, count))
            elif which == "new":
                _pool(new, run(count))
    med = statistics.median
    rounds = f", {a.rounds} alternating rounds pooled" if a.baseline and a.rounds > 1 else ""
    print(f"bench_widgets: {count} slider steps per control and mode{rounds}; times in ms")
    print("  compute: the callback alone (no page attached, nothing drawn)")
    print("  frame:   the callback with a page attached, including the frame sent to it (old panels: their PNG);")
    print("           cold: nothing done between steps")
    print("  idle:    frame, the same steps, after the idle work done between steps in a kernel (panel.idle(),")
    print("           untimed: the maths and backgrounds of every control's next values); '-': the panel has none")
    head = (f"{'panel/control':<18}{'compute med':>12}{'worst':>8}{'frame med':>11}{'worst':>8}"
            f"{'idle med':>10}{'worst':>8}")
    if old:
        head += f"{'old med':>10}{'worst':>8}{'ratio':>7}"
    print(head)
    for key, t in new.items():
        c, f, i = t["compute"], t["frame"], t.get("idle") or t["frame"]
        row = f"{key:<18}{med(c):>12.1f}{max(c):>8.1f}{med(f):>11.1f}{max(f):>8.1f}"
        row += f"{med(i):>10.1f}{max(i):>8.1f}" if "idle" in t else f"{'-':>10}{'-':>8}"
        if old and key in old:
            o = old[key]["frame"]
            row += f"{med(o):>10.1f}{max(o):>8.1f}{med(o) / med(f):>7.1f}"
        print(row)
    c_all = [med(t["compute"]) for t in new.values()]
    f_all = [med(t["frame"]) for t in new.values()]
    i_all = [t.get("idle") or t["frame"] for t in new.values()]   # a panel with no idle work: its cold steps
    row = (f"{'median of medians':<18}{med(c_all):>12.1f}{max(max(t['compute']) for t in new.values()):>8.1f}"
           f"{med(f_all):>11.1f}{max(max(t['frame']) for t in new.values()):>8.1f}"
           f"{med(map(med, i_all)):>10.1f}{max(map(max, i_all)):>8.1f}")
    if old:
        o_all = [med(t["frame"]) for k, t in old.items() if k in new]
        row += f"{med(o_all):>10.1f}{max(max(t['frame']) for t in old.values()):>8.1f}{med(o_all) / med(f_all):>7.1f}"
    print(row)
    if a.json:
        pathlib.Path(a.json).write_text(json.dumps({"new": new, "old": old}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
