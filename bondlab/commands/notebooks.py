"""``bondlab notebooks DIR [--student]``: copy the six notebooks out of the installed package into DIR.

The notebooks are package data (bondlab/notebooks/*.ipynb), so a student who ran ``pip install bondlab``
has them without the git repository. ``--student`` writes the exercise-only copies instead (worked
solutions replaced by empty exercise cells: bondlab.student). DIR must be new or empty: nothing is overwritten.
"""
from __future__ import annotations

import importlib.resources
import json
import pathlib

from ._args import PathArg


def register(groups) -> None:
    p = groups["root"].add_parser(
        "notebooks", help="copy the teaching notebooks into a new folder (--student: without the solutions)",
        description="Copy bondlab's six notebooks (Best-of-N, quantiles and N, forward vs backward KL, reward "
                    "over-optimization, iterative BOND and J-BOND, the tiny GPT) into DIR, which must not exist "
                    "or be empty. Then open them with `jupyter lab DIR`.")
    p.add_argument("dir", metavar="DIR", type=PathArg("out_dir"), help="folder to create (or an empty one) for the notebooks")
    p.add_argument("--student", action="store_true",
                   help="exercise-only copies: each worked solution replaced by an empty exercise cell")
    p.set_defaults(func=run)


def shipped():
    """The notebooks inside the installed package, in order (importlib.resources traversables)."""
    folder = importlib.resources.files("bondlab") / "notebooks"
    return sorted((f for f in folder.iterdir() if f.name.endswith(".ipynb")), key=lambda f: f.name)


def copy_notebooks(dst, student: bool = False) -> list[pathlib.Path]:
    """Write the shipped notebooks (or their student copies) into ``dst``, a new or empty folder."""
    from ..student import dumps, student_notebook
    dst = pathlib.Path(dst)
    if dst.exists() and not dst.is_dir():
        raise ValueError(f"DIR {str(dst)!r} is a file, not a folder")
    if dst.is_dir() and any(dst.iterdir()):
        raise ValueError(f"DIR {str(dst)!r} exists and is not empty; give a new folder (nothing was written)")
    sources = shipped()
    if not sources:
        raise ValueError("this installation of bondlab has no notebooks (bondlab/notebooks/ is empty)")
    dst.mkdir(parents=True, exist_ok=True)
    written = []
    for f in sources:
        text = f.read_text(encoding="utf-8")
        if student:
            text = dumps(student_notebook(json.loads(text)))
        target = dst / f.name
        try:
            with open(target, "x", encoding="utf-8") as out:   # "x": never replace a file
                out.write(text)
        except FileExistsError:
            raise ValueError(f"DIR {str(dst)!r}: {f.name} appeared while copying; nothing was overwritten") from None
        written.append(target)
    return written


def run(args) -> int:
    written = copy_notebooks(args.dir, student=args.student)
    kind = "student copies (solutions removed)" if args.student else "notebooks"
    for p in written:
        print(p)
    print(f"wrote {len(written)} {kind} into {args.dir}; open them with: jupyter lab {args.dir}")
    return 0
