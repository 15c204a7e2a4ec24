"""``bondlab toy divergences|iterative|jbond``: distillation on toy spaces, with exact metrics at every step.

- ``divergences``: fit forward, backward and Jeffreys BOND (exact gradients) to Best-of-N of a bimodal
  pi_ref, with a restricted (Gaussian) or tabular policy; the JSON history is the Jeffreys run.
- ``iterative``: iterative BOND, Best-of-n of an anchor that is reset every steps/rounds steps (or moved
  by an EMA with ``--eta``); the JSON adds ``bon_equivalent_n``, the n^M of each hard-anchor round.
- ``jbond``: J-BOND (Algorithm 2, sampled, n = 2, EMA anchor) and a REINFORCE baseline on the same space.

Figures (PNG) go into ``--out``; ``--json FILE`` writes {"config", "history", ...} with the metric lists
of :data:`bondlab.train.METRICS`. Same ``--seed``, same numbers.
"""
from __future__ import annotations

import pathlib
import time

import matplotlib
import torch

from ..bon import bon_probs
from ..configs import Range
from ..jbond import IterativeConfig, ToyJBondConfig, train_iterative, train_toy_jbond
from ..outputs import save_figure, write_json
from ..plots.distill import plot_fits, plot_history, plot_quantile_vs_step, plot_reward_vs_kl
from ..policies import FAMILIES
from ..smoke import smoke_mode
from ..spaces import grid_mixture
from ..train import BondConfig, ToyReinforceConfig, train_bond, train_toy_reinforce
from . import _args as A
from ._from_config import add_config_flags, config_from_args

FULL_STEPS = {"divergences": 400, "iterative": 600, "jbond": 600}   # default --steps in full mode
SMOKE_STEPS = {"divergences": 60, "iterative": 80, "jbond": 60}     # ... with --smoke / BONDLAB_SMOKE=1
DEFAULT_N = {"divergences": 4, "iterative": 2, "jbond": 2}           # default --n
ROUNDS = 4                 # hard-anchor rounds of `iterative` (period = steps // ROUNDS)
BETA_RL = 0.1              # KL weight of the REINFORCE baseline beside J-BOND


# the config fields each subcommand reads, as flags (help and range from the dataclass), and its own defaults
FLAGS = {
    "divergences": (BondConfig, ("n", "beta", "family", "steps", "lr", "seed"),
                    {"n": 4, "family": "gaussian", "lr": 0.1, "steps": FULL_STEPS["divergences"]}),
    "iterative": (IterativeConfig, ("n", "eta", "beta", "gradient", "seed"), {"n": 2}),
    "jbond": (ToyJBondConfig, ("beta", "gamma", "eta", "gradient", "batch", "steps", "lr", "v1_sign", "seed"),
              {"steps": FULL_STEPS["jbond"]}),
}


def register(groups):
    toy = groups["toy"]
    helps = {
        "divergences": "forward vs backward vs Jeffreys BOND on a bimodal target (exact gradients)",
        "iterative": "iterative BOND: Best-of-n of a moving anchor tracks Best-of-n^M",
        "jbond": "J-BOND (Algorithm 2, sampled, n = 2) against a REINFORCE baseline",
    }
    for name, text in helps.items():   # each subcommand takes only the flags it reads
        p = toy.add_parser(name, help=text, description=text + ". Writes figures into --out; --json writes the history.")
        cls, only, defaults = FLAGS[name]
        add_config_flags(p, cls, only=only, defaults=defaults, helps={
            "steps": f"optimiser steps ({SMOKE_STEPS[name]} in smoke mode)",
            "eta": f"EMA rate of the anchor, instead of hard resets every steps/{ROUNDS} steps" if name == "iterative"
                   else "EMA rate of the anchor"},
            narrow={"eta": Range(False, 0, 1, lo_open=True)} if name == "iterative" else None)
        if name == "iterative":        # the total over the hard rounds, not a config field
            p.add_argument("--steps", type=A.count(), default=None,
                           help=f"optimiser steps in all, split into {ROUNDS} hard rounds (default "
                                f"{FULL_STEPS[name]}; {SMOKE_STEPS[name]} in smoke mode)")
        p.add_argument("--out", type=A.PathArg("out_dir"), default="runs", help="folder for the figures (default runs/)")
        p.add_argument("--json", type=A.PathArg("out_file"), default=None, help="write {config, history, ...} to this JSON file")
        p.add_argument("--smoke", action="store_true", help="a quick run with few steps")
        A.add_force(p)
        p.set_defaults(func=run, check=check, distill=name)


def _steps(args) -> int:
    table = SMOKE_STEPS if (args.smoke or smoke_mode()) else FULL_STEPS
    return args.steps if args.steps is not None else table[args.distill]


def check(args) -> None:
    """What needs several flags, before any training: the hard rounds, and the outputs."""
    steps = _steps(args)
    if args.distill == "iterative" and not args.eta and steps < ROUNDS:
        raise ValueError(f"--steps must be >= {ROUNDS} (one per hard-anchor round), got {steps}")
    if args.distill == "jbond":        # what only several flags together can break, before any work
        config_from_args(ToyJBondConfig, args, steps=steps)
    targets = {"--out": [args.out / f"{args.distill}.png"]}
    if args.json is not None:
        targets["--json"] = [args.json]
    A.preflight(targets, args.force)


def _save(fig, path: pathlib.Path) -> str:
    return str(save_figure(fig, path, dpi=100))


def run(args) -> int:
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    torch.set_num_threads(1)   # toy tensors are tiny: extra threads only add synchronisation
    n, steps = getattr(args, "n", None) or FLAGS[args.distill][2].get("n", 2), _steps(args)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    config = {k: (str(v) if isinstance(v, pathlib.Path) else v) for k, v in vars(args).items()
              if k not in ("func", "check", "command", "toy_command") and not k.startswith("_")}   # its flags
    config.update(n=n, steps=steps)
    t0 = time.perf_counter()
    result: dict = {"config": config}
    figures = []
    if args.distill == "divergences":
        space = grid_mixture(k=61, weights=(0.5, 0.5), means=(-0.5, 0.5), scales=(0.15, 0.15), reward="two_peaks")
        runs, fits = {}, {}
        for obj in ("forward", "backward", "jeffreys"):
            cfg = config_from_args(BondConfig, args, defaults=FLAGS["divergences"][2], objective=obj, steps=steps)
            pol, runs[obj] = train_bond(space, cfg, progress=True)
            fits[obj] = pol.probs_np()
        config.update({k: getattr(cfg, k) for k in FLAGS["divergences"][1]})
        fig, axes = plt.subplots(1, 3, figsize=(14, 3.6), layout="constrained")
        plot_fits(space.x, bon_probs(space.ref_probs, space.rewards, cfg.n), fits, ref=space.ref_probs, ax=axes[0])
        plot_history(runs, "fwd_kl", log=True, ax=axes[1])
        plot_history(runs, "entropy", ax=axes[2])
        figures.append(_save(fig, out / "divergences.png"))
        result["history"], result["runs"] = runs["jeffreys"], runs
        print(f"{'objective':<10} {'KL(BoN||pi)':>12} {'KL(pi||BoN)':>12} {'entropy':>9}   family={cfg.family}, N={n}")
        for obj, h in runs.items():
            print(f"{obj:<10} {h['fwd_kl'][-1]:>12.4f} {h['bwd_kl'][-1]:>12.4f} {h['entropy'][-1]:>9.4f}")
    elif args.distill == "iterative":
        space = grid_mixture(k=101, weights=(0.6, 0.4), reward="linear")
        ema = bool(args.eta)
        rounds, period = (1, steps) if ema else (ROUNDS, max(1, steps // ROUNDS))
        cfg = config_from_args(IterativeConfig, args, defaults=FLAGS["iterative"][2], rounds=rounds, period=period,
                               lr=0.05 if args.gradient == "sampled" else 0.1)
        config.update({k: getattr(cfg, k) for k in FLAGS["iterative"][1]})
        _, h = train_iterative(space, cfg, progress=True)
        result["bon_equivalent_n"] = h.pop("bon_equivalent_n")
        result["round_end"] = h.pop("round_end")
        result["history"] = h
        fig, axes = plt.subplots(1, 2, figsize=(11, 3.6), layout="constrained")
        marks = result["bon_equivalent_n"] or [float(n) ** m for m in range(1, ROUNDS + 1)]
        plot_quantile_vs_step({**h, "round_end": result["round_end"]}, space, bon_ns=marks, ax=axes[0])
        plot_quantile_vs_step({**h, "round_end": result["round_end"]}, space, key="kl_ref", bon_ns=marks, ax=axes[1])
        figures.append(_save(fig, out / "iterative.png"))
        print(f"Best-of-n^M reached by hard rounds: {result['bon_equivalent_n']}")
        print(f"final quantile {h['quantile'][-1]:.4f}, KL(pi||pi_ref) {h['kl_ref'][-1]:.4f}, "
              f"KL(BoN_n(anchor)||pi) {h['fwd_kl'][-1]:.4g}")
    else:
        space = grid_mixture(k=101, weights=(0.6, 0.4), reward="linear")
        jcfg = config_from_args(ToyJBondConfig, args, steps=steps)
        config.update({k: getattr(jcfg, k) for k in FLAGS["jbond"][1]})
        _, h = train_toy_jbond(space, jcfg, progress=True)
        _, hr = train_toy_reinforce(space, ToyReinforceConfig(beta_rl=BETA_RL, gradient=jcfg.gradient, steps=steps,
                                                              seed=jcfg.seed), progress=True)
        result["history"], result["baselines"] = h, {f"reinforce_{BETA_RL:g}": hr}
        fig, axes = plt.subplots(1, 2, figsize=(11, 3.6), layout="constrained")
        plot_quantile_vs_step(h, space, bon_ns=(2, 4, 8, 16), label="J-BOND", ax=axes[0])
        plot_reward_vs_kl({"J-BOND": h, f"REINFORCE β_RL={BETA_RL:g}": hr}, space, bon_ns=(2, 4, 8, 16), ax=axes[1])
        figures.append(_save(fig, out / "jbond.png"))
        print(f"J-BOND:    quantile {h['quantile'][-1]:.4f}  reward {h['reward'][-1]:.4f}  KL(pi||pi_ref) {h['kl_ref'][-1]:.4f}")
        print(f"REINFORCE: quantile {hr['quantile'][-1]:.4f}  reward {hr['reward'][-1]:.4f}  KL(pi||pi_ref) {hr['kl_ref'][-1]:.4f}")
    plt.close("all")
    wall = time.perf_counter() - t0
    result["wall_s"] = wall
    print(f"figures: {', '.join(figures)}   ({wall:.2f} s)")
    if args.json:
        write_json(args.json, result)
        print(f"wrote {args.json}")
    return 0
