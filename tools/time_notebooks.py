"""Time every notebook end to end with nbclient, in full mode and in smoke mode; prints a Markdown table.

    .venv/bin/python tools/time_notebooks.py [--mode full|smoke|both] [--threads 2] [bondlab/notebooks/01_*.ipynb ...]

Each run starts a fresh kernel (its start-up is included, as in a classroom) with MPLBACKEND=Agg and
torch/BLAS threads capped at ``--threads`` (default 2, a small laptop). Outputs are discarded: the
notebooks on disk are not modified. The numbers in docs/guide/instructors.md come from this script.
"""
from __future__ import annotations

import argparse
import os
import pathlib
import platform
import sys
import time

import nbformat
from nbclient import NotebookClient

ROOT = pathlib.Path(__file__).resolve().parent.parent


def time_notebook(path: pathlib.Path, smoke: bool, threads: int, timeout: int = 3600) -> tuple[float, str]:
    """Seconds to run ``path`` top to bottom in a fresh kernel, and "ok" or the first error's name."""
    env_keys = {"BONDLAB_SMOKE": "1" if smoke else "0", "MPLBACKEND": "Agg", "OMP_NUM_THREADS": str(threads),
                "MKL_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": str(threads)}
    saved = {k: os.environ.get(k) for k in [*env_keys, "CI"]}
    os.environ.update(env_keys)
    os.environ.pop("CI", None)   # CI would force smoke mode
    try:
        nb = nbformat.read(path, as_version=4)
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                                resources={"metadata": {"path": str(path.parent)}})
        t0 = time.perf_counter()
        client.execute()
        dt = time.perf_counter() - t0
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    errors = [o.get("ename", "error") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    return dt, ("ok" if not errors else errors[0])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("notebooks", nargs="*", help="default: bondlab/notebooks/*.ipynb")
    ap.add_argument("--mode", choices=["full", "smoke", "both"], default="both")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    paths = [pathlib.Path(p) for p in args.notebooks] or sorted((ROOT / "bondlab" / "notebooks").glob("*.ipynb"))
    modes = ["full", "smoke"] if args.mode == "both" else [args.mode]
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores visible, "
          f"{args.threads} threads, python {platform.python_version()}", file=sys.stderr)
    print("| notebook | " + " | ".join(f"{m} mode (s)" for m in modes) + " |")
    print("| --- | " + " | ".join("---:" for _ in modes) + " |")
    for p in paths:
        cells = []
        for m in modes:
            dt, status = time_notebook(p, smoke=(m == "smoke"), threads=args.threads)
            cells.append(f"{dt:.0f}" + ("" if status == "ok" else f" ({status})"))
        print(f"| {p.stem} | " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
