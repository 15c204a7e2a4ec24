"""``bondlab toy overopt``: Best-of-N on a learned proxy reward, scored by the gold reward, exactly.

Fits a Bradley-Terry proxy on ``--m`` comparisons (each label flipped with probability ``--noise``) drawn
from pi_ref, traces gold and proxy reward against d = sqrt KL for Best-of-N (N = 1..10^4) and for the
KL-regularised optimum, adds BOND-distilled policies (Jeffreys, a Gaussian policy) at a few N,
fits Gao et al.'s forms, and prints the true best N next to the fitted one.
Writes PNG figures into ``--out`` and, with ``--json``, the curves and picks. Same ``--seed``, same numbers. The
whole run is exact maths on a 201-point space and takes a few seconds, so it shows no progress bar.
"""
from __future__ import annotations

import pathlib

from ..outputs import save_figure, write_json
from ..overopt import OveroptConfig, bond_curves, run_overopt, to_json
from ..smoke import smoke_mode
from . import _args as A

DEFAULTS = OveroptConfig()
SMOKE_POINTS = 15            # N and beta grid points in smoke mode (full: OveroptConfig.n_points)
SMOKE_KS = (4, 16)           # quantile-view k in smoke mode
BOND_NS = (2, 4, 8, 16, 32, 64)  # N of the BOND (Jeffreys, Gaussian policy) points in full mode
SMOKE_BOND_NS = (4, 16)          # ... in smoke mode
FIGURES = ("overopt.png", "quantile_view.png")


def register(groups):
    p = groups["toy"].add_parser(
        "overopt", help="reward over-optimization: Best-of-N on a Bradley-Terry proxy, gold vs proxy, Gao fits",
        description="Fit a Bradley-Terry proxy reward on M noisy comparisons from pi_ref, then trace the exact "
                    "gold and proxy reward of Best-of-N (N = 1..10^4) and of the KL-regularised optimum against "
                    "d = sqrt KL, fit Gao et al.'s forms and compare the N picked from the fit with the true best N.")
    p.add_argument("--m", type=A.count(), default=DEFAULTS.m, help=f"labelled comparisons (default {DEFAULTS.m})")
    p.add_argument("--noise", type=A.real(0, 1), default=DEFAULTS.noise,
                   help=f"probability that a label is flipped, in [0, 1] (default {DEFAULTS.noise})")
    p.add_argument("--capacity", type=A.count(), default=DEFAULTS.capacity,
                   help=f"proxy features: Legendre degree (default {DEFAULTS.capacity})")
    p.add_argument("--seed", type=A.SEED, default=DEFAULTS.seed, help="seed of the comparisons (default 0)")
    p.add_argument("--out", type=A.PathArg("out_dir"), default="runs/overopt",
                   help="folder for the figures (default runs/overopt)")
    p.add_argument("--json", type=A.PathArg("out_file"), default=None, metavar="FILE",
                   help="write the curves, picks, fits and config here")
    p.add_argument("--smoke", action="store_true", help="a quick run on coarser grids")
    A.add_force(p)
    p.set_defaults(func=run, check=check)


def check(args) -> None:
    """Memory of the proxy fit (m comparisons x F features, an F x F Hessian) and the outputs, before any work."""
    f = args.capacity + 1
    A.refuse_unless_fits(8 * (4 * (args.m + DEFAULTS.k) * f + 2 * f * f), "--m, --capacity",
                         f"a Bradley-Terry fit on {args.m:,} comparisons with {f:,} features")
    targets = {"--out": [args.out / name for name in FIGURES]}
    if args.json is not None:
        targets["--json"] = [args.json]
    A.preflight(targets, args.force)


def run(args) -> int:
    smoke = args.smoke or smoke_mode()
    kw = dict(m=args.m, noise=args.noise, capacity=args.capacity, seed=args.seed)
    if smoke:
        kw.update(n_points=SMOKE_POINTS, n_betas=SMOKE_POINTS, ks=SMOKE_KS)
    cfg = OveroptConfig(**kw)
    out = pathlib.Path(args.out)
    res = run_overopt(cfg)
    bond = bond_curves(res.space, res.proxy.rewards, SMOKE_BOND_NS if smoke else BOND_NS)

    g0 = res.extra["gold_ref"]
    print(f"proxy: Bradley-Terry on m={cfg.m} comparisons, {int(res.proxy.flipped.sum())} labels flipped "
          f"(noise {cfg.noise:g}), features {cfg.features}({cfg.capacity})")
    print(f"{'N':>7} {'d':>7} {'gold':>8} {'proxy':>8}")
    for n, d, g, p in zip(res.bon.param, res.bon.d, res.bon.gold, res.bon.proxy):
        print(f"{int(n):>7} {d:>7.3f} {g:>8.4f} {p:>8.3f}")
    print(f"gold under pi_ref {g0:.4f}; max gold reward {res.extra['gold_max']:.4f}")
    print(f"best N (exact gold)       = {res.best_n_true:>6}  gold {res.extra['gold_at_best_true']:.4f}")
    print(f"best N (fitted R_bon)     = {res.best_n_fit:>6}  gold {res.extra['gold_at_best_fit']:.4f}")
    for n, d, g in zip(bond.param, bond.d, bond.gold):
        print(f"BOND (Jeffreys, Gaussian policy) distilling Best-of-{int(n)}: d = {d:.3f}  gold = {g:.4f}")
    for f in (res.fit_bon, res.fit_rl):
        print(f"fit {f.form:>3}: alpha = {f.alpha:.4f}  beta = {f.beta:.4f}  d* = {f.d_star:.3f}  rmse = {f.rmse:.4f}")

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from ..plots.overopt import plot_overopt, plot_quantile_view, plot_rewards, plot_vs_n

    out.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, 3, figsize=(17, 4.4), layout="constrained")
    plot_rewards(res, ax=axes[0])
    plot_overopt(res, ax=axes[1], others={"BOND (Gaussian policy)": bond})
    plot_vs_n(res, ax=axes[2])
    save_figure(fig, out / FIGURES[0], dpi=110)
    plt.close(fig)
    if res.quantile is not None:
        fig, ax = plt.subplots(figsize=(6.4, 4), layout="constrained")
        plot_quantile_view(res.quantile, ax=ax)
        save_figure(fig, out / FIGURES[1], dpi=110)
        plt.close(fig)
    print(f"figures: {out / 'overopt.png'}, {out / 'quantile_view.png'}")
    if args.json:
        path = pathlib.Path(args.json)
        rec = to_json(res)
        rec["bond"] = {"n": [int(n) for n in bond.param], "kl": bond.kl.tolist(), "gold": bond.gold.tolist(),
                       "proxy": bond.proxy.tolist(), "policy": "gaussian", "objective": "jeffreys"}
        write_json(path, rec)
        print(f"json: {path}")
    return 0
