"""``bondlab demo``: the small-LM comparison of J-BOND, Best-of-N and REINFORCE (see bondlab.lm.demo)."""
from __future__ import annotations

import time

from ..smoke import smoke_mode
from . import _args as A

FIGURES = ("reward_vs_kl.png", "training_curves.png")   # and exact_micro.png with --exact (bondlab.lm.demo)


def register(groups) -> None:
    p = groups["root"].add_parser(
        "demo", help="J-BOND vs Best-of-N vs REINFORCE on the shipped tiny GPT (a few minutes on a CPU)",
        description="Distil Best-of-N into the shipped review GPT with J-BOND until its mean reference quantile "
                    "reaches N/(N+1); compare with Best-of-N sampling (N = 1..16) and REINFORCE (beta_RL = 0.01, 0.1, "
                    "1) on the same prompts. Prints a table, writes reward_vs_kl.png and training_curves.png "
                    "into --out, and the numbers as JSON with --json.")
    p.add_argument("--target-n", type=A.real(2), default=8.0,
                   help="J-BOND stops when its mean reference quantile reaches N/(N+1); N >= 2 (default 8)")
    p.add_argument("--smoke", action="store_true", help="a quick run (under a minute); also on with BONDLAB_SMOKE=1")
    p.add_argument("--out", type=A.PathArg("out_dir"), default="runs/demo", help="folder for the figures (default runs/demo)")
    p.add_argument("--json", type=A.PathArg("out_file"), default=None, help="write the numbers to this JSON file")
    p.add_argument("--exact", action="store_true",
                   help="also run J-BOND on the micro GPT, tracking the exact KL to Best-of-2^m over every sequence")
    p.add_argument("--keep-going", action="store_true",
                   help="continue J-BOND past the stop and show the degeneration (adds several minutes)")
    p.add_argument("--budget", choices=["samples", "reward_calls", "steps", "wall"], default=None,
                   help="REINFORCE gets J-BOND's number of policy samples (samples, the default), reward-model calls "
                        "(reward_calls), steps (steps, the default with --smoke) or training seconds (wall: varies "
                        "from run to run); the first three give the same table for the same seed")
    p.add_argument("--seed", type=A.SEED, default=0, help="seed of every generator (default 0)")
    p.add_argument("--threads", type=A.THREADS, default=1,
                   help="torch CPU threads (default 1: the model is small, and one thread was faster than two on a "
                        "busy 2-core machine)")
    p.add_argument("--workers", type=A.THREADS, default=2,
                   help="REINFORCE runs trained at once, each in its own process (default 2; 1: one after the "
                        "other; with --threads above 1 they always run one after the other)")
    A.add_force(p)
    p.set_defaults(func=run, check=check)


def check(args) -> None:
    figures = FIGURES + (("exact_micro.png",) if args.exact else ())
    targets = {"--out": [args.out / name for name in figures]}
    if args.json is not None:
        targets["--json"] = [args.json]
    A.preflight(targets, args.force)


def run(args) -> int:
    import torch

    from ..lm.demo import DemoConfig, format_table, run_demo, write_outputs
    torch.set_num_threads(args.threads)
    smoke = bool(args.smoke or smoke_mode())
    kw = dict(target_n=args.target_n, exact=args.exact, keep_going=args.keep_going, seed=args.seed,
              workers=args.workers)
    if args.budget is not None:
        kw["budget"] = args.budget
    cfg = DemoConfig.smoke_config(**kw) if smoke else DemoConfig(**kw)
    t0 = time.perf_counter()
    result = run_demo(cfg)
    paths = write_outputs(result.data, args.out, args.json)
    print(format_table(result.data))
    j = result.data["methods"]["jbond"]
    print("\nsamples after J-BOND:")
    for t in j["samples"]:
        print("  ", t)
    print(f"\nwrote {', '.join(str(p) for p in paths)}  ({time.perf_counter() - t0:.0f} s in all)")
    return 0
