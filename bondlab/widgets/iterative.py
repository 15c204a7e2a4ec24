"""Notebook 05's panel: iterative BOND (hard anchor every T steps, or EMA) and J-BOND, exact gradients.

Sliders: n, the anchor mode and period T (or EMA rate eta), J-BOND's gamma and beta. A change reruns
what depends on it, the exact iterative-BOND run (3 rounds) and/or the exact J-BOND run on a 61-point grid,
vectorised without autograd (:mod:`bondlab.fit_exact`: the numbers of ``train_iterative`` and
``train_jbond`` to float64 rounding, tens of milliseconds; runs already seen, and those of every control's
next values run while the kernel is idle, come from a cache, :mod:`bondlab.widgets.ahead`), and sets the
quantile and KL to pi_ref against step with markers at Best-of-n^M, and J-BOND's KL to its anchor
(Sessa et al. 2024, Sec. 4.3 and Algorithm 2).
"""
from __future__ import annotations

import ipywidgets as W
import numpy as np
from ..fit_exact import iterative_exact, jbond_exact
from ..plots.distill import plot_history, plot_quantile_vs_step
from ..spaces import grid_mixture
from ..theory import bon_expected_quantile, bon_kl
from .ahead import Ahead, cached, values
from .frames import static
from .live import Panel, autoscale, live_figure, make_panel, readout_table, set_line, show
from .prefetch import expect, span_limits

__all__ = ["iterative_panel", "ROUNDS"]

ROUNDS = 3  # hard-anchor rounds M per run: the target climbs to Best-of-n^3
CACHE = 64  # runs kept per panel (each a few hundred steps of metrics)


def iterative_panel(n: int = 2, mode: str = "hard", period: int = 100, eta: float = 0.05, gamma: float = 0.5,
                    beta: float = 0.5, jbond_steps: int = 200, k: int = 61) -> Panel:
    """Returns a :class:`bondlab.widgets.bon.Panel`. ``state`` holds ``space``, ``iterative`` and
    ``jbond`` histories. Axes: [0] quantile vs step (iterative), [1] KL(pi || pi_ref) vs step (iterative),
    [2] J-BOND KL(pi || pi_anchor) vs step, [3] J-BOND quantile vs step."""
    if mode not in ("hard", "ema"):
        raise ValueError(f"mode must be 'hard' or 'ema', got {mode!r}")
    controls = {
        "n": W.IntSlider(value=n, min=2, max=4, description="n"),
        "mode": W.ToggleButtons(options=["hard", "ema"], value=mode, description="anchor"),
        "period": W.IntSlider(value=period, min=10, max=300, step=10, description="period T"),
        "eta": W.FloatSlider(value=eta, min=0.005, max=0.3, step=0.005, description="η (EMA)", readout_format=".3f"),
        "gamma": W.FloatSlider(value=gamma, min=0.0, max=4.0, step=0.25, description="γ (J-BOND)"),
        "beta": W.FloatSlider(value=beta, min=0.0, max=1.0, step=0.05, description="β"),
    }
    for c in controls.values():
        c.continuous_update = False
    space = grid_mixture(k=k, weights=(0.6, 0.4), reward="linear")
    # y limits for each n (which moves the markers, so their axes are drawn again anyway) that hold for every
    # other slider: from pi_ref's quantile (or 0) up to the highest Best-of-n^M marker (exact)
    p, r, ns = space.ref_probs, space.rewards, range(controls["n"].min, controls["n"].max + 1)
    q_ref = bon_expected_quantile(p, r, 1)
    spans = {"quantile": {n_: (q_ref, bon_expected_quantile(p, r, float(n_) ** ROUNDS)) for n_ in ns},
             "kl_ref": {n_: (0.0, bon_kl(p, r, float(n_) ** ROUNDS)) for n_ in ns},
             "jbond": (q_ref, bon_expected_quantile(p, r, 16))}
    # the iterative run's steps axis (ROUNDS * T steps) spans a rung of a ladder of widths x1.5 from the
    # smallest T's: ten limits in all, each a function of T, so they can be drawn ahead (the data fill 2/3 of it
    # or more)
    c_t = controls["period"]
    rungs = [float(ROUNDS * c_t.min)]
    while rungs[-1] < ROUNDS * c_t.max:
        rungs.append(1.5 * rungs[-1])
    fig = live_figure((12, 6))
    axes = fig.subplots(2, 2).ravel()
    readout, state = W.HTML(), {"space": space}
    cache: dict = {}

    def rung(steps):
        return next(x for x in rungs if x >= steps)

    def marks_of(n_):
        return [float(n_) ** m for m in range(1, ROUNDS + 1)]

    def place(ax, f, n_):   # the Best-of-n^M markers and their labels, for n_
        for line, text, m in zip(ax.lines[1:], ax.texts, marks_of(n_)):
            v = f(space.ref_probs, space.rewards, m)
            line.set_ydata([v, v])
            text.set_text(f"BoN {m:g}")
            text.xy = text.xyann = (0, v)   # the point and the text (placed at the point)

    def first_draw(hi, hj, marks, label, jlabel):
        for ax, key in ((axes[0], "quantile"), (axes[1], "kl_ref")):
            plot_quantile_vs_step(hi, space, key=key, bon_ns=marks, label=label, ax=ax)
            if len(ax.lines) == 1 + len(marks):   # EMA: no reset dots yet; keep an empty line for hard mode
                ax.plot([], [], "o", color="C3", ms=5, label="hard anchor reset")
                ax.legend(fontsize=8)
        plot_history({jlabel: hj}, "kl_anchor", ax=axes[2])
        plot_quantile_vs_step(hj, space, bon_ns=(2, 4, 8, 16), label=jlabel, ax=axes[3])
        for ax in (axes[0], axes[1]):   # the curves rise from the left: their legend's place stays free
            ax.get_legend().set_loc("lower right")
        for ax in (axes[0], axes[1], axes[3]):   # Best-of-N markers: drawn with the background, change with n only
            static(*ax.lines[1:len(ax.texts) + 1], *ax.texts)
        n0, at = int(controls["n"].value), rungs.index(rung(len(hi["quantile"])))
        for ax, key, f in ((axes[0], "quantile", bon_expected_quantile), (axes[1], "kl_ref", bon_kl)):
            # drawn ahead when the page attaches: every n's y limits (its span, or a quarter more when the run
            # overshoots Best-of-n^M) with its markers, at the x limits of that moment; and this n's with the
            # two rungs of steps on either side
            poses = [(n_, None, y) for n_ in ns for y in span_limits(spans[key][n_], above=1)]
            poses += [(n0, span_limits((0.0, x))[0], y) for x in rungs[max(at - 2, 0):at] + rungs[at + 1:at + 3]
                      for y in span_limits(spans[key][n0], above=1)]
            expect(ax, [y for _, _, y in poses], lambda k, ax=ax, f=f, poses=poses: place(ax, f, poses[k][0]),
                   xlims=[x for _, x, _ in poses])

    def draw(hi, hj, n_, label, jlabel, titles, shown=True):
        marks = marks_of(n_)
        if not axes[0].lines:   # first update: the plot helpers draw; later ones set the same artists' data
            first_draw(hi, hj, marks, label, jlabel)
        for ax, key, f in ((axes[0], "quantile", bon_expected_quantile), (axes[1], "kl_ref", bon_kl)):
            y = np.asarray(hi[key])
            set_line(ax.lines[0], y, np.arange(1, y.size + 1))
            place(ax, f, n_)
            ends = np.asarray(hi["round_end"], dtype=int)
            set_line(ax.lines[1 + len(marks)], y[ends], ends + 1)
            autoscale(ax, x=True, xspan=(0.0, rung(y.size)), yspan=spans[key][n_])
        y = np.asarray(hj["kl_anchor"])
        for ax, yy, span in ((axes[2], y, None), (axes[3], np.asarray(hj["quantile"]), spans["jbond"])):
            set_line(ax.lines[0], yy, np.arange(1, yy.size + 1))
            autoscale(ax, x=True, yspan=span)
        for ax, title in zip(axes, titles):
            ax.set_title(title, fontsize=10)
        if shown:
            show(fig)

    def runs(v):   # (cache key, run) of both exact runs for the values v, keyed by exactly what each depends on
        n_, period_, eta_ = int(v["n"]), int(v["period"]), float(v["eta"])
        beta_, gamma_ = float(v["beta"]), float(v["gamma"])
        eta_it = eta_ if v["mode"] == "ema" else 0.0
        return [(("it", n_, period_, eta_it, beta_), lambda: iterative_exact(
                    space, n_, ROUNDS, period_, eta_it, beta_, lr=0.1)),
                (("jb", beta_, gamma_, eta_), lambda: jbond_exact(space, beta_, gamma_, eta_, jbond_steps, lr=0.05))]

    def pose(v, shown=False):   # the artists as the update for v sets them (a frame only if shown)
        (_, hi), (_, hj) = [cached(cache, key, run, CACHE) for key, run in runs(v)]
        n_, eta_ = int(v["n"]), float(v["eta"])
        anchor = f"EMA η={eta_:g}" if v["mode"] == "ema" else f"hard anchor every {int(v['period'])}"
        draw(hi, hj, n_, "iterative BOND", "J-BOND", [   # the legends stay as drawn: the numbers are in the titles
            f"iterative BOND, n={n_}, {anchor}: quantile", "KL to π_ref (markers: Best-of-n^M)",
            f"J-BOND (η={eta_:g}, β={float(v['beta']):g}, γ={float(v['gamma']):g}): KL to the anchor",
            "J-BOND: quantile"], shown)
        return hi, hj

    def update(*_):
        hi, hj = pose(values(controls), shown=True)
        state.update(iterative=hi, jbond=hj)
        readout.value = readout_table([
            ("it_quantile", "iterative: final E<sub>π</sub>[p≤]", f"{hi['quantile'][-1]:.4f}"),
            ("it_kl_ref", "iterative: final KL(π &#8214; π<sub>ref</sub>)", f"{hi['kl_ref'][-1]:.4f}"),
            ("it_bon_n", "Best-of-n<sup>M</sup> reached by hard rounds",
             ", ".join(f"{v:g}" for v in hi["bon_equivalent_n"]) or "— (EMA: no hard rounds)"),
            ("jb_quantile", "J-BOND: final E<sub>π</sub>[p≤]", f"{hj['quantile'][-1]:.4f}"),
            ("jb_kl_ref", "J-BOND: final KL(π &#8214; π<sub>ref</sub>)", f"{hj['kl_ref'][-1]:.4f}"),
            ("jb_kl_anchor", "J-BOND: mean KL(π &#8214; π<sub>anchor</sub>)", f"{np.mean(hj['kl_anchor']):.5f}"),
        ])

    ahead = Ahead(controls, lambda v: [lambda key=key, run=run: cached(cache, key, run, CACHE)
                                       for key, run in runs(v) if key not in cache], pose, fig)
    return make_panel(controls, readout, fig, [[controls["n"], controls["mode"], controls["period"]],
                                               [controls["eta"], controls["gamma"], controls["beta"]]], update, state,
                      ahead=ahead)
