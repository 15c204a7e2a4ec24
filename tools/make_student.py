"""Write exercise-only copies of the notebooks: ``python tools/make_student.py [SRC_DIR] [OUT_DIR]``.

Defaults: notebooks/ -> build/student/. Uses nbformat only (no bondlab import), so it runs anywhere.

The solution-cell convention (also in docs/guide/instructors.md):

* a cell whose metadata ``tags`` list contains ``"solution"``, or
* a code cell whose first non-blank line starts with ``# SOLUTION``, or
* a markdown cell whose first non-blank line starts with ``<!-- SOLUTION -->``

is a solution cell. In the student copy each solution cell is replaced by an exercise cell of the same
type, tagged ``"exercise"``: a code cell holding ``# EXERCISE: write your solution here`` (plus the
solution cell's ``# EXERCISE:`` lines, if it has any, so the author can leave a hint), or a markdown cell
``*Your answer here.*``. Every other cell is copied unchanged; all outputs and execution counts are
cleared. Each student notebook's metadata records ``bondlab.student = {"solutions_removed": k}``.
"""
from __future__ import annotations

import argparse
import pathlib
import re
import sys

import nbformat

SOLUTION_TAG = "solution"           # metadata tag that marks a solution cell
EXERCISE_TAG = "exercise"           # tag put on the placeholder cell in the student copy
CODE_MARKER = "# SOLUTION"          # first-line marker for code cells
MARKDOWN_MARKER = "<!-- SOLUTION -->"  # first-line marker for markdown cells
CODE_PLACEHOLDER = "# EXERCISE: write your solution here\n"
MARKDOWN_PLACEHOLDER = "*Your answer here.*"


SUMMARY = re.compile(r"^#{1,6}[ \t]*Summary\b", re.IGNORECASE | re.MULTILINE)
EXERCISES = re.compile(r"^#{1,6}[ \t]*Exercises\b", re.IGNORECASE | re.MULTILINE)


def summary_and_exercises(cells):
    """``(s, e, listing)``: the index of the first markdown cell with a Summary heading, the index of the first
    markdown cell with an Exercises heading after it (the same cell counts when the heading comes later in it),
    and the text after that heading. ``None`` for what is missing. Cells may be nbformat nodes or plain dicts."""
    cells = list(cells)
    src = [c.get("source", "") if isinstance(c.get("source", ""), str) else "".join(c["source"]) for c in cells]
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


def _first_line(source: str) -> str:
    for line in source.splitlines():
        if line.strip():
            return line.strip()
    return ""


def is_solution(cell) -> bool:
    """True when ``cell`` follows the solution-cell convention above."""
    if SOLUTION_TAG in cell.get("metadata", {}).get("tags", []):
        return True
    first = _first_line(cell.get("source", ""))
    if cell.get("cell_type") == "code":
        return first.upper().startswith(CODE_MARKER)
    if cell.get("cell_type") == "markdown":
        return first.upper().startswith(MARKDOWN_MARKER)
    return False


def is_exercise(cell) -> bool:
    """True for a placeholder cell written by :func:`student_notebook` (or any cell tagged ``exercise``)."""
    return EXERCISE_TAG in cell.get("metadata", {}).get("tags", [])


def _placeholder(cell):
    if cell.cell_type == "markdown":
        new = nbformat.v4.new_markdown_cell(MARKDOWN_PLACEHOLDER)
    else:
        hints = [ln for ln in cell.source.splitlines() if ln.strip().startswith("# EXERCISE:")]
        new = nbformat.v4.new_code_cell("\n".join(hints) + "\n" + CODE_PLACEHOLDER if hints else CODE_PLACEHOLDER)
    new.metadata["tags"] = [EXERCISE_TAG]
    return new


def student_notebook(nb):
    """A copy of notebook ``nb`` with solution cells replaced by exercise cells and outputs cleared."""
    out = nbformat.v4.new_notebook(metadata=dict(nb.metadata))
    removed = 0
    for cell in nb.cells:
        if is_solution(cell):
            out.cells.append(_placeholder(cell))
            removed += 1
            continue
        cell = nbformat.from_dict(dict(cell))
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        out.cells.append(cell)
    out.metadata.setdefault("bondlab", {})
    out.metadata["bondlab"] = dict(out.metadata["bondlab"], student={"solutions_removed": removed})
    return out


def make_student(src: pathlib.Path, dst: pathlib.Path) -> list[tuple[pathlib.Path, int]]:
    """Write a student copy of every ``src/*.ipynb`` into ``dst``; returns ``[(path, solutions_removed)]``."""
    src, dst = pathlib.Path(src), pathlib.Path(dst)
    if not src.is_dir():
        raise ValueError(f"src must be a folder of notebooks, got {str(src)!r}")
    dst.mkdir(parents=True, exist_ok=True)
    written = []
    for path in sorted(src.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        student = student_notebook(nb)
        nbformat.validate(student)
        target = dst / path.name
        nbformat.write(student, target)
        written.append((target, student.metadata["bondlab"]["student"]["solutions_removed"]))
    return written


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src", nargs="?", default="notebooks", help="folder of teacher notebooks (default notebooks/)")
    ap.add_argument("dst", nargs="?", default="build/student", help="output folder (default build/student/)")
    args = ap.parse_args(argv)
    written = make_student(pathlib.Path(args.src), pathlib.Path(args.dst))
    for path, k in written:
        print(f"{path}: {k} solution cell(s) replaced by exercise cells")
    if not written:
        print(f"no notebooks found in {args.src}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
