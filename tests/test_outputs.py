"""bondlab.outputs: strict JSON (non-finite -> null), atomic files that never leave half-written ones."""
import json
import math

import numpy as np
import pytest

from bondlab.outputs import atomic_path, dumps, finite_json, loads_strict, save_figure, write_json


def test_non_finite_numbers_become_null_and_the_text_parses_strictly(tmp_path):
    obj = {"a": float("nan"), "b": [1.5, float("inf"), -float("inf")], "c": np.float32(np.nan),
           "d": np.array([0.25, np.inf]), "e": (np.int64(3), np.bool_(True)), 4: None, "f": "NaN"}
    text = dumps(obj)
    assert loads_strict(text) == {"a": None, "b": [1.5, None, None], "c": None, "d": [0.25, None],
                                  "e": [3, True], "4": None, "f": "NaN"}
    assert json.loads(text) == loads_strict(text)
    with pytest.raises(ValueError, match="strict"):
        loads_strict(json.dumps({"x": math.inf}))                    # what Python writes by default is refused
    with pytest.raises(TypeError, match="object"):
        finite_json({"x": object()})
    path = write_json(tmp_path / "r.json", obj)
    assert loads_strict(path.read_text()) == loads_strict(text) and path.read_text().endswith("\n")


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "r.json"
    target.write_text("old")
    with pytest.raises(TypeError):
        write_json(target, {"x": object()})                          # fails before any byte is written
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]


def test_save_figure_writes_a_png_atomically(tmp_path):
    from matplotlib.figure import Figure
    fig = Figure()
    fig.subplots().plot([0, 1], [1, 0])
    path = save_figure(fig, tmp_path / "f.png", dpi=50)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and [p.name for p in tmp_path.iterdir()] == ["f.png"]
