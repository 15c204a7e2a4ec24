"""Cell builders shared by the notebook generators (notebooks/make_*.py).

Worked solutions follow tools/make_student.py's convention: the metadata tag "solution" and a first-line
marker ("# SOLUTION" in code, "<!-- SOLUTION -->" in markdown), so `make student` replaces them by empty
exercise cells that keep the "# EXERCISE:" hint line.
"""
from __future__ import annotations

import pathlib

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


def md(text: str):
    return new_markdown_cell(text.strip())


def code(text: str):
    return new_code_cell(text.strip())


def exercise(k: int, title: str):
    """A plain heading above exercise k's solution cells (kept in the student copy)."""
    return md(f"### Exercise {k}: {title}")


def solution_code(k: int, hint: str, text: str):
    """Exercise k's solution code, opening with "# SOLUTION" and the "# EXERCISE:" hint the student keeps."""
    cell = new_code_cell(f"# SOLUTION (exercise {k})\n# EXERCISE: {k}. {hint}\n" + text.strip())
    cell.metadata["tags"] = ["solution"]
    return cell


def solution_md(k: int, text: str):
    """Exercise k's written answer, opening with "<!-- SOLUTION -->"."""
    cell = new_markdown_cell(f"<!-- SOLUTION -->\n**Answer {k}.** " + text.strip())
    cell.metadata["tags"] = ["solution"]
    return cell


def write(cells, path: pathlib.Path) -> pathlib.Path:
    """Validate and write a notebook without outputs; cell ids are numbered so that regenerating is a no-op."""
    for i, cell in enumerate(cells):
        cell["id"] = f"cell-{i:03d}"
    nb = new_notebook(cells=cells, metadata={"kernelspec": dict(KERNELSPEC), "language_info": {"name": "python"}})
    nbformat.validate(nb)
    nbformat.write(nb, path)
    return path
