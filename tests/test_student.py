"""Student copies (bondlab/student.py: `bondlab notebooks DIR --student`, `make student`): solution cells out,
exercise cells in (one per solution cell, same id, keeping only its "# EXERCISE:" hint), the copies still end
with their summary and exercises, and they run in smoke mode up to the first exercise cell."""
import pathlib

import nbformat
import pytest
from nbclient import NotebookClient

import bondlab.student as ms

ROOT = pathlib.Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "bondlab" / "notebooks").glob("*.ipynb"))

summary_and_exercises = ms.summary_and_exercises


def _code(src, tags=None, outputs=None):
    c = nbformat.v4.new_code_cell(src)
    if tags:
        c.metadata["tags"] = tags
    if outputs:
        c.outputs = outputs
        c.execution_count = 1
    return c


def _md(src, tags=None):
    c = nbformat.v4.new_markdown_cell(src)
    if tags:
        c.metadata["tags"] = tags
    return c


def _teacher_notebook():
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        _md("# A notebook\nThe marker `# SOLUTION` inside text does not make this a solution cell."),
        _code("x = 2", outputs=[nbformat.v4.new_output("stream", name="stdout", text="hi\n")]),
        _code("# EXERCISE: compute y = 3 x\ny = 3 * x  # the answer", tags=["solution"]),
        _code("\n# SOLUTION\nz = y + 1"),
        _md("<!-- SOLUTION -->\nBecause y = 6."),
        _code("assert y == 6 and z == 7"),
        _md("## Summary\n## Exercises\n1. ..."),
    ]
    return nb


def _run_until_first_exercise(nb, path_dir, monkeypatch):
    """Execute the code cells before the first exercise cell in smoke mode; return the executed cells."""
    monkeypatch.setenv("BONDLAB_SMOKE", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    cells = []
    for c in nb.cells:
        if ms.is_exercise(c):
            break
        cells.append(c)
    head = nbformat.v4.new_notebook(metadata=nb.metadata)
    head.cells = cells
    NotebookClient(head, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(path_dir)}}).execute()
    errors = [o for c in head.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors, errors
    return head.cells


def test_solution_cells_are_replaced_and_the_rest_kept():
    teacher = _teacher_notebook()
    student = nbformat.from_dict(ms.student_notebook(teacher))
    assert len(student.cells) == len(teacher.cells)
    assert student.metadata["bondlab"]["student"]["solutions_removed"] == 3
    kinds = [(c.cell_type, ms.is_exercise(c)) for c in student.cells]
    assert kinds == [("markdown", False), ("code", False), ("code", True), ("code", True), ("markdown", True),
                     ("code", False), ("markdown", False)]
    text = "\n".join(c.source for c in student.cells)
    assert "3 * x" not in text and "z = y + 1" not in text and "Because y = 6" not in text
    assert "# EXERCISE: compute y = 3 x" in student.cells[2].source   # the author's hint survives
    for i in (0, 5, 6):
        assert student.cells[i].source == teacher.cells[i].source
    assert all(not c.get("outputs") and c.get("execution_count") is None
               for c in student.cells if c.cell_type == "code")
    assert teacher.cells[1].outputs, "the teacher's notebook must not be modified"
    assert [c.id for c in student.cells] == [c.id for c in teacher.cells]   # placeholders keep their cell's id
    nbformat.validate(student)


def test_student_copy_runs_to_first_exercise_and_not_beyond(tmp_path, monkeypatch):
    teacher = _teacher_notebook()
    (tmp_path / "src").mkdir()
    nbformat.write(teacher, tmp_path / "src" / "01_demo.ipynb")
    written = ms.make_student(tmp_path / "src", tmp_path / "out")
    assert [(p.name, k) for p, k in written] == [("01_demo.ipynb", 3)]
    student = nbformat.read(tmp_path / "out" / "01_demo.ipynb", as_version=4)
    ran = _run_until_first_exercise(student, tmp_path, monkeypatch)
    assert [c.source for c in ran if c.cell_type == "code"] == ["x = 2"]
    # the whole student copy must NOT run: the answer it needs was removed
    monkeypatch.setenv("BONDLAB_SMOKE", "1")
    client = NotebookClient(student, timeout=120, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    names = [o.get("ename") for c in student.cells if c.cell_type == "code" for o in c.outputs
             if o.get("output_type") == "error"]
    assert "NameError" in names


def test_bad_source_folder_is_a_value_error(tmp_path):
    with pytest.raises(ValueError, match="src"):
        ms.make_student(tmp_path / "missing", tmp_path / "out")


def test_there_are_notebooks_to_copy():
    assert NOTEBOOKS, "notebooks/ has no notebooks"


def _hints(cell):
    return [ln for ln in cell.source.splitlines() if ln.strip().startswith("# EXERCISE:")]


def _exercises_index(cells):
    """Index of the markdown cell with the notebook's "Exercises" heading (after its "Summary" heading)."""
    s, e, _ = summary_and_exercises(cells)
    assert s is not None and e is not None, "no Summary heading followed by an Exercises heading"
    return e


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_real_notebook_student_copy(path, tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / path.name).write_bytes(path.read_bytes())
    [(out, removed)] = ms.make_student(tmp_path / "src", tmp_path / "out")
    teacher = nbformat.read(path, as_version=4)
    student = nbformat.read(out, as_version=4)
    assert removed == sum(ms.is_solution(c) for c in teacher.cells)
    assert student.metadata["bondlab"]["student"]["solutions_removed"] == removed
    assert not any(ms.is_solution(c) for c in student.cells)
    assert not any(ms.is_exercise(c) for c in teacher.cells)
    assert sum(ms.is_exercise(c) for c in student.cells) == removed       # one placeholder per solution cell
    assert len(student.cells) == len(teacher.cells)
    for t, s in zip(teacher.cells, student.cells):
        if not ms.is_solution(t):
            assert s.source == t.source and not ms.is_exercise(s)
            continue
        assert ms.is_exercise(s) and s.cell_type == t.cell_type
        if s.cell_type == "markdown":
            assert s.source == ms.MARKDOWN_PLACEHOLDER
        else:   # the author's hint lines survive, and nothing else of the answer
            assert _hints(s)[:-1] == _hints(t) and s.source.strip().splitlines() == _hints(s)
    # the copy still ends with its summary and exercises: after the Exercises heading only markdown and placeholders
    e = _exercises_index(student.cells)
    assert e == _exercises_index(teacher.cells)
    assert all(c.cell_type == "markdown" or ms.is_exercise(c) for c in student.cells[e + 1:])
    # what a student runs before the first exercise is the teacher's notebook up to its first solution, cell for
    # cell, and tests/test_notebooks.py runs the teacher's notebook top to bottom in smoke mode from a fresh
    # kernel: so the copy's head runs too, without a second execution here (the made-up notebook above is run)
    head = [(c.cell_type, c.source) for c in student.cells[:next((i for i, c in enumerate(student.cells)
                                                                  if ms.is_exercise(c)), len(student.cells))]]
    first = next((i for i, c in enumerate(teacher.cells) if ms.is_solution(c)), len(teacher.cells))
    assert head == [(c.cell_type, c.source) for c in teacher.cells[:first]]
    if removed == 0:
        assert [c.source for c in student.cells] == [c.source for c in teacher.cells]


def test_some_real_notebooks_have_worked_solutions():
    """The stripping above is exercised on real notebooks, not only on the made-up one."""
    with_solutions = [p.name for p in NOTEBOOKS
                      if any(ms.is_solution(c) for c in nbformat.read(p, as_version=4).cells)]
    assert with_solutions, "no notebook in notebooks/ has solution cells"
