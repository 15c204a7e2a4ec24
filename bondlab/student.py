"""Exercise-only copies of the notebooks (``bondlab notebooks DIR --student``, ``make student``).

Notebooks are handled as plain JSON dicts (the .ipynb format), so this needs neither nbformat nor Jupyter.
The solution-cell convention (also in docs/guide/instructors.md):

* a cell whose metadata ``tags`` list contains ``"solution"``, or
* a code cell whose first non-blank line starts with ``# SOLUTION``, or
* a markdown cell whose first non-blank line starts with ``<!-- SOLUTION -->``

is a solution cell. In the student copy each solution cell is replaced by an exercise cell of the same type,
with the same cell id, tagged ``"exercise"``: a code cell holding ``# EXERCISE: write your solution here``
(plus the solution cell's ``# EXERCISE:`` lines, if it has any, so the author can leave a hint), or a markdown
cell ``*Your answer here.*``. Every other cell is copied unchanged; all outputs and execution counts are
cleared. Each student notebook's metadata records ``bondlab.student = {"solutions_removed": k}``.
"""
from __future__ import annotations

import copy
import json
import pathlib
import re

SOLUTION_TAG = "solution"              # metadata tag that marks a solution cell
EXERCISE_TAG = "exercise"              # tag put on the placeholder cell in the student copy
CODE_MARKER = "# SOLUTION"             # first-line marker for code cells
MARKDOWN_MARKER = "<!-- SOLUTION -->"  # first-line marker for markdown cells
CODE_PLACEHOLDER = "# EXERCISE: write your solution here\n"
MARKDOWN_PLACEHOLDER = "*Your answer here.*"

SUMMARY = re.compile(r"^#{1,6}[ \t]*Summary\b", re.IGNORECASE | re.MULTILINE)
EXERCISES = re.compile(r"^#{1,6}[ \t]*Exercises\b", re.IGNORECASE | re.MULTILINE)


def source(cell) -> str:
    """A cell's source as one string (.ipynb files may store it as a list of lines)."""
    s = cell.get("source", "")
    return s if isinstance(s, str) else "".join(s)


def summary_and_exercises(cells):
    """``(s, e, listing)``: the index of the first markdown cell with a Summary heading, the index of the first
    markdown cell with an Exercises heading after it (the same cell counts when the heading comes later in it),
    and the text after that heading. ``None`` for what is missing. Cells may be nbformat nodes or plain dicts."""
    cells = list(cells)
    src = [source(c) for c in cells]
    s = next((i for i, c in enumerate(cells) if c["cell_type"] == "markdown" and SUMMARY.search(src[i])), None)
    if s is None:
        return None, None, None
    for i in range(s, len(cells)):
        if cells[i]["cell_type"] != "markdown":
            continue
        text = src[i] if i != s else src[i][SUMMARY.search(src[i]).end():]
        m = EXERCISES.search(text)
        if m:
            return s, i, text[m.end():]
    return s, None, None


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def is_solution(cell) -> bool:
    """True when ``cell`` follows the solution-cell convention above."""
    if SOLUTION_TAG in cell.get("metadata", {}).get("tags", []):
        return True
    first = _first_line(source(cell)).upper()
    if cell.get("cell_type") == "code":
        return first.startswith(CODE_MARKER)
    if cell.get("cell_type") == "markdown":
        return first.startswith(MARKDOWN_MARKER)
    return False


def is_exercise(cell) -> bool:
    """True for a placeholder cell written by :func:`student_notebook` (or any cell tagged ``exercise``)."""
    return EXERCISE_TAG in cell.get("metadata", {}).get("tags", [])


def placeholder(cell) -> dict:
    """The exercise cell that replaces solution ``cell``: same type and id, only the author's hint lines kept."""
    if cell["cell_type"] == "markdown":
        new = {"cell_type": "markdown", "metadata": {}, "source": MARKDOWN_PLACEHOLDER}
    else:
        hints = [ln for ln in source(cell).splitlines() if ln.strip().startswith("# EXERCISE:")]
        text = "\n".join(hints) + "\n" + CODE_PLACEHOLDER if hints else CODE_PLACEHOLDER
        new = {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": text}
    if "id" in cell:
        new["id"] = cell["id"]          # deterministic: regenerating a copy changes nothing
    new["metadata"]["tags"] = [EXERCISE_TAG]
    return new


def student_notebook(nb) -> dict:
    """A copy of notebook ``nb`` (a dict) with solution cells replaced by exercise cells and outputs cleared.
    ``nb`` itself is not modified."""
    out = {k: copy.deepcopy(v) for k, v in dict(nb).items() if k != "cells"}
    out["cells"] = []
    removed = 0
    for cell in nb["cells"]:
        if is_solution(cell):
            out["cells"].append(placeholder(cell))
            removed += 1
            continue
        cell = copy.deepcopy(dict(cell))
        if cell["cell_type"] == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        out["cells"].append(cell)
    meta = out.setdefault("metadata", {})
    meta["bondlab"] = dict(meta.get("bondlab", {}), student={"solutions_removed": removed})
    return out


def read(path: pathlib.Path) -> dict:
    return json.loads(pathlib.Path(path).read_text(encoding="utf-8"))


def dumps(nb: dict) -> str:
    """A notebook as Jupyter writes it (sorted keys, one-space indent), so that saving it again is a no-op."""
    return json.dumps(nb, sort_keys=True, indent=1, ensure_ascii=False) + "\n"


def make_student(src: pathlib.Path, dst: pathlib.Path) -> list[tuple[pathlib.Path, int]]:
    """Write a student copy of every ``src/*.ipynb`` into ``dst``; returns ``[(path, solutions_removed)]``."""
    src, dst = pathlib.Path(src), pathlib.Path(dst)
    if not src.is_dir():
        raise ValueError(f"src must be a folder of notebooks, got {str(src)!r}")
    dst.mkdir(parents=True, exist_ok=True)
    written = []
    for path in sorted(src.glob("*.ipynb")):
        student = student_notebook(read(path))
        target = dst / path.name
        target.write_text(dumps(student), encoding="utf-8")
        written.append((target, student["metadata"]["bondlab"]["student"]["solutions_removed"]))
    return written
