"""Tidy the notebooks after editing them in Jupyter: ``python tools/tidy_notebooks.py [--check] [NB ...]``.

The committed notebooks (bondlab/notebooks/*.ipynb, the one source of each) hold only what an author wrote,
so that a change shows as a small diff:

* code cells without outputs or execution counts;
* cell metadata reduced to ``tags`` (solution cells are tagged ``solution``; see bondlab/student.py);
* notebook metadata reduced to the kernel spec (no Python version, no widget state);
* deterministic cell ids: ``install`` for the first cell and ``cell-NNN`` for the others. Ids are never
  renumbered; a cell added in Jupyter (which gives it a random id) gets the next free number.

``--check`` changes nothing and exits 1 when a notebook is not tidy (tests/test_notebooks.py runs the same check).
"""
from __future__ import annotations

import argparse
import copy
import json
import pathlib
import re
import sys

from bondlab.student import dumps

ROOT = pathlib.Path(__file__).resolve().parent.parent
SOURCE = ROOT / "bondlab" / "notebooks"
ID = re.compile(r"^(install|cell-(\d{3,}))$")
METADATA = {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"}}


def tidy(nb: dict) -> dict:
    """A tidy copy of notebook ``nb`` (a dict as read from the .ipynb file)."""
    nb = copy.deepcopy(nb)
    nb["metadata"] = copy.deepcopy(METADATA)
    nb["nbformat"], nb["nbformat_minor"] = 4, max(5, nb.get("nbformat_minor", 5))   # 4.5: cells have ids
    numbers = [int(m.group(2)) for c in nb["cells"] if (m := ID.match(c.get("id", ""))) and m.group(2)]
    following = max(numbers, default=-1) + 1
    seen = set()
    for cell in nb["cells"]:
        tags = cell.get("metadata", {}).get("tags")
        cell["metadata"] = {"tags": tags} if tags else {}
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
        if "attachments" in cell and not cell["attachments"]:
            del cell["attachments"]
        if not ID.match(cell.get("id", "")) or cell["id"] in seen:
            cell["id"] = f"cell-{following:03d}"
            following += 1
        seen.add(cell["id"])
    return nb


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("notebooks", nargs="*", help="default: bondlab/notebooks/*.ipynb")
    ap.add_argument("--check", action="store_true", help="change nothing; exit 1 if a notebook is not tidy")
    args = ap.parse_args(argv)
    paths = [pathlib.Path(p) for p in args.notebooks] or sorted(SOURCE.glob("*.ipynb"))
    untidy = []
    for p in paths:
        text = p.read_text(encoding="utf-8")
        tidy_text = dumps(tidy(json.loads(text)))
        if tidy_text != text:
            untidy.append(p)
            if not args.check:
                p.write_text(tidy_text, encoding="utf-8")
        print(f"{p}: {'tidy' if tidy_text == text else ('not tidy' if args.check else 'tidied')}")
    return 1 if args.check and untidy else 0


if __name__ == "__main__":
    sys.exit(main())
