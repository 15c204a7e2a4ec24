"""Write exercise-only copies of the notebooks: ``python tools/make_student.py [SRC_DIR] [OUT_DIR]``.

Defaults: bondlab/notebooks/ -> build/student/ (existing copies there are replaced). The work, and the
solution-cell convention, live in bondlab/student.py, which ``bondlab notebooks DIR --student`` uses too.
"""
from __future__ import annotations

import argparse
import pathlib
import sys

from bondlab.student import make_student

ROOT = pathlib.Path(__file__).resolve().parent.parent


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src", nargs="?", default=str(ROOT / "bondlab" / "notebooks"),
                    help="folder of teacher notebooks (default bondlab/notebooks/)")
    ap.add_argument("dst", nargs="?", default="build/student", help="output folder (default build/student/)")
    args = ap.parse_args(argv)
    try:
        written = make_student(pathlib.Path(args.src), pathlib.Path(args.dst))
    except ValueError as e:
        ap.error(str(e))
    for path, k in written:
        print(f"{path}: {k} solution cell(s) replaced by exercise cells")
    if not written:
        print(f"no notebooks found in {args.src}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
