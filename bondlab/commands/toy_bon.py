"""``bondlab toy bon``: exact Best-of-N against real Best-of-N sampling on three toy spaces.

For each space it draws ``--samples`` Best-of-n picks (draw n from pi_ref, keep the first best), prints
the exact pi_BoN (Sessa et al. 2024, Theorem 1) beside the sampled frequencies, per outcome or per
reward level, with a z-score and the total variation, and writes figures (PNG) and the table (CSV) into
``--out`` and, with ``--json``, the table and the summaries. Same ``--seed``, same numbers.
"""
from __future__ import annotations

import csv
import io
import math
import pathlib
import time

import numpy as np
from tqdm.auto import tqdm

from ..bon import bon_levels, bon_probs, bon_terms, quantiles, sample_bon
from ..divergences import tv
from ..outputs import save_figure, write_json, write_text
from ..quantile_estimates import plug_in_bon_probs
from ..smoke import smoke_mode
from ..spaces import grid_mixture, tie_example, uniform_binary
from ..theory import bon_kl, bon_kl_bound, bon_win_rate
from . import _args as A

DEFAULT_N = 8              # Best-of-8: a visible shift, still cheap to sample
DEFAULT_SAMPLES = 200_000  # Best-of-n picks per space in full mode (TV noise ~ 0.01 on 101 outcomes)
SMOKE_SAMPLES = 20_000     # ... in smoke mode (--smoke, BONDLAB_SMOKE=1 or CI)
CHUNK_DRAWS = 2_000_000    # pi_ref draws per sampling chunk (one progress-bar step)
FIGURES = ("bon_mixture.png", "bon_ties.png", "bon_quantile_law.png", "bon_kl_vs_bound.png")
CSV_NAME = "toy_bon.csv"
BYTES_PER_DRAW = 40        # one chunk of pi_ref draws: int64 indices, float64 uniforms and rewards, argmax
BYTES_PER_PICK = 48        # each kept pick: int64, in chunks then concatenated, for three spaces


def register(groups):
    p = groups["toy"].add_parser(
        "bon", help="exact Best-of-N vs sampling on toy spaces; prints a table, writes figures",
        description="Compare the exact Best-of-N law with real Best-of-N sampling on three toy spaces "
                    "(a tied six-outcome space, a 101-point mixture with a step reward, the same mixture with a "
                    "linear reward). Prints the tables, writes PNG figures and a CSV into --out.")
    p.add_argument("--n", type=A.count(), default=DEFAULT_N, help=f"N, a whole number >= 1 (default {DEFAULT_N})")
    p.add_argument("--out", type=A.PathArg("out_dir"), default="runs",
                   help="folder for the figures and the CSV (default runs/)")
    p.add_argument("--json", type=A.PathArg("out_file"), default=None,
                   help="write {config, summary, table} to this JSON file")
    p.add_argument("--samples", type=A.count(), default=None,
                   help=f"Best-of-n picks per space (default {DEFAULT_SAMPLES:,}; {SMOKE_SAMPLES:,} in smoke mode)")
    p.add_argument("--seed", type=A.SEED, default=0, help="seed of np.random.default_rng (default 0)")
    p.add_argument("--smoke", action="store_true", help="a quick run with fewer samples")
    A.add_force(p)
    p.set_defaults(func=run, check=check)


def _sample(space, n: int, size: int, rng: np.random.Generator, label: str) -> np.ndarray:
    """Best-of-n picks in chunks, with a progress bar when the work is long."""
    rows = max(1, CHUNK_DRAWS // n)
    chunks = [min(rows, size - lo) for lo in range(0, size, rows)]
    bar = tqdm(chunks, desc=f"sampling {label}", unit="chunk", leave=False, disable=n * size < 20_000_000)
    return np.concatenate([sample_bon(space.ref_probs, space.rewards, n, c, rng) for c in bar])


def _noise_tv(p: np.ndarray, size: int) -> float:
    """E[TV(p, empirical of `size` draws)] under sampling noise alone (normal approximation)."""
    return float(0.5 * np.sum(np.sqrt(2.0 * p * (1.0 - p) / (math.pi * size))))


def _z(exact: np.ndarray, freq: np.ndarray, size: int) -> np.ndarray:
    sd = np.sqrt(exact * (1.0 - exact) / size)
    return np.where(sd > 0, (freq - exact) / np.where(sd > 0, sd, 1.0), 0.0)


def _print_rows(header: str, rows: list[str]) -> None:
    print(header)
    print("  " + "-" * (len(header) - 2))
    for row in rows:
        print(row)


def _summary(space, n: int, exact: np.ndarray, freq: np.ndarray, size: int) -> dict:
    p, r = space.ref_probs, space.rewards
    out = dict(tv=tv(exact, freq), noise=_noise_tv(exact, size), kl=bon_kl(p, r, n), bound=float(bon_kl_bound(n)),
               win=bon_win_rate(p, r, n), gain=float(exact @ r - p @ r))
    print(f"  TV(exact, sampled) over outcomes = {out['tv']:.4f}   (sampling noise alone gives about {out['noise']:.4f})")
    print(f"  KL(pi_BoN || pi_ref) = {out['kl']:.4f} nats   bound log N - (N-1)/N = {out['bound']:.4f}")
    print(f"  win rate vs a pi_ref sample = {out['win']:.4f}   continuous N/(N+1) = {n / (n + 1):.4f}"
          f"   reward gain E_BoN[r] - E_ref[r] = {out['gain']:+.4f}")
    return out


def _per_outcome(space, n, picks, size, table):
    p, r = space.ref_probs, space.rewards
    exact = bon_probs(p, r, n)
    a, b = bon_terms(p, r, n)
    freq = np.bincount(picks, minlength=p.size) / size
    z = _z(exact, freq, size)
    rows = []
    for i in range(p.size):
        table.append(dict(space=space.name, unit="outcome", label=f"y{i}", reward=r[i], pi_ref=p[i], exact=exact[i],
                          sampled=freq[i], z=z[i]))
        rows.append(f"  y{i:<3d} {r[i]:>7.3g} {p[i]:>8.4f} {a[i]:>8.4f} {b[i]:>6.3f} {exact[i]:>13.4f}"
                        f" {freq[i]:>9.4f} {z[i]:>+6.2f}")
    _print_rows("  y     reward   pi_ref      (A)    (B)  exact pi_BoN   sampled      z", rows)
    _, p_le = quantiles(p, r)
    no_b = plug_in_bon_probs(p, np.maximum(p_le, 1e-300), n)
    print(f"  (B) is 1 on the worst level and below N = {n} on tied levels; a target without it,"
          f" pi_ref (A) normalised, would be off by TV = {tv(no_b, exact):.4f}")
    return exact, freq


def _per_level(space, n, picks, size, table):
    p, r = space.ref_probs, space.rewards
    lv, log_b = bon_levels(p, r, n)
    exact_level = np.exp(log_b)                                             # (L,) F(r)^n - F(r-)^n
    level_of = np.searchsorted(lv.reward, r)                                # (K,) level index of each outcome
    freq_level = np.bincount(level_of[picks], minlength=lv.reward.size) / size
    z = _z(exact_level, freq_level, size)
    rows = []
    for j in range(lv.reward.size):
        table.append(dict(space=space.name, unit="level", label=f"r={lv.reward[j]:g}", reward=lv.reward[j],
                          pi_ref=lv.mass[j], exact=exact_level[j], sampled=freq_level[j], z=z[j]))
        rows.append(f"  {lv.reward[j]:>7.3g} {lv.counts[j]:>9d} {lv.mass[j]:>8.4f} {exact_level[j]:>13.4f}"
                        f" {freq_level[j]:>9.4f} {z[j]:>+6.2f}")
    _print_rows("  reward  outcomes   pi_ref  exact pi_BoN   sampled      z", rows)
    exact = bon_probs(p, r, n)
    return exact, np.bincount(picks, minlength=p.size) / size


def _figures(out: pathlib.Path, n: int, spaces: dict, picks: dict) -> list[pathlib.Path]:
    from matplotlib.figure import Figure

    from ..plots.bon import plot_bon, plot_kl_vs_bound, plot_quantile_law, plot_terms, plot_ties

    paths = []

    def save(fig, name):
        paths.append(save_figure(fig, out / name, dpi=100))

    lin, ties, steps = spaces["mixture/linear"], spaces["ties"], spaces["mixture/steps"]
    fig = Figure(figsize=(12, 4), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    plot_bon(lin.ref_probs, lin.rewards, n, x=lin.x, samples=picks[lin.name], ax=ax1)
    ax1.set_title(f"{lin.name}: exact Best-of-{n} vs sampling", fontsize=10)
    plot_terms(lin.ref_probs, lin.rewards, n, x=lin.x, ax=ax2)
    save(fig, "bon_mixture.png")

    fig = Figure(figsize=(12, 4), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    plot_ties(ties.ref_probs, ties.rewards, n, samples=picks[ties.name], ax=ax1)
    plot_terms(ties.ref_probs, ties.rewards, n, ax=ax2)
    save(fig, "bon_ties.png")

    fig = Figure(figsize=(12, 4), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    plot_quantile_law(lin.ref_probs, lin.rewards, n, samples=picks[lin.name], ax=ax1)
    ax1.set_title(f"{lin.name}: quantile law, N={n}", fontsize=10)
    plot_quantile_law(steps.ref_probs, steps.rewards, n, samples=picks[steps.name], ax=ax2)
    ax2.set_title(f"{steps.name}: quantile law, N={n}", fontsize=10)
    save(fig, "bon_quantile_law.png")

    fig = Figure(figsize=(7, 4.5), layout="constrained")
    plot_kl_vs_bound([lin, steps, ties, uniform_binary()], np.unique(np.geomspace(1, 1024, 41).round(2)),
                     ax=fig.subplots())
    save(fig, "bon_kl_vs_bound.png")
    return paths


def _sizes(args) -> tuple[int, int, bool]:
    smoke = bool(args.smoke) or smoke_mode()
    size = args.samples if args.samples is not None else (SMOKE_SAMPLES if smoke else DEFAULT_SAMPLES)
    return args.n, size, smoke


def check(args) -> None:
    """Refuse, before any sampling, what cannot fit in memory and outputs that would clobber a file."""
    n, size, _ = _sizes(args)
    A.refuse_unless_fits(BYTES_PER_DRAW * max(n, 4_000_000) + BYTES_PER_PICK * size, "--n, --samples",
                         f"Best-of-{n} sampling of {size:,} picks per space")
    targets = {"--out": [args.out / name for name in (CSV_NAME, *FIGURES)]}
    if args.json is not None:
        targets["--json"] = [args.json]
    A.preflight(targets, args.force)


def run(args) -> int:
    n, size, smoke = _sizes(args)
    rng = np.random.default_rng(args.seed)
    out = pathlib.Path(args.out)
    t0 = time.perf_counter()

    print(f"bondlab toy bon: exact Best-of-{n} against {size:,} sampled Best-of-{n} picks per space"
          f" (seed {args.seed}{', smoke mode' if smoke else ''})")
    print("z = (sampled - exact) / its standard error; |z| < 3 is what sampling noise alone gives.")
    spaces = {"ties": tie_example(), "mixture/steps": grid_mixture(reward="steps"),
              "mixture/linear": grid_mixture(reward="linear")}
    how = {"ties": "per outcome", "mixture/steps": "per reward level", "mixture/linear": "summary only"}
    picks, table, summary = {}, [], {}
    for name, space in spaces.items():
        picks[name] = _sample(space, n, size, rng, name)
        k, n_levels = space.ref_probs.size, np.unique(space.rewards).size
        print(f"\n== {name}: {k} outcomes, {n_levels} reward levels ({how[name]}) ==")
        if name == "ties":
            exact, freq = _per_outcome(space, n, picks[name], size, table)
        elif name == "mixture/steps":
            exact, freq = _per_level(space, n, picks[name], size, table)
        else:
            exact = bon_probs(space.ref_probs, space.rewards, n)
            freq = np.bincount(picks[name], minlength=k) / size
            z = _z(exact, freq, size)
            print(f"  largest |z| over the {k} outcomes: {np.abs(z).max():.2f}")
        summary[name] = _summary(space, n, exact, freq, size)

    out.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO(newline="")
    w = csv.DictWriter(buf, fieldnames=["space", "unit", "label", "reward", "pi_ref", "exact", "sampled", "z"])
    w.writeheader()
    w.writerows(table)
    csv_path = write_text(out / CSV_NAME, buf.getvalue())
    figures = _figures(out, n, spaces, picks)
    print(f"\nWrote {csv_path} and {len(figures)} figures to {out}/: " + ", ".join(p.name for p in figures))
    wall = time.perf_counter() - t0
    if args.json is not None:
        config = {"n": n, "samples": size, "seed": args.seed, "smoke": smoke, "out": str(out)}
        write_json(args.json, {"config": config, "summary": summary, "table": table, "wall_s": wall})
        print(f"Wrote {args.json}")
    print(f"Done in {wall:.1f} s.")
    return 0
