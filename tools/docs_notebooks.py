"""The docs site's executed notebooks: full-mode runs of bondlab/notebooks/*.ipynb, cached in docs/notebooks/.

    .venv/bin/python tools/docs_notebooks.py            # run the notebooks whose cached copy is stale (make docs)
    .venv/bin/python tools/docs_notebooks.py --force    # run them all again (make docs-execute)
    .venv/bin/python tools/docs_notebooks.py --check    # list stale copies; exit 1 if any (runs nothing)

The notebooks themselves are committed without outputs (they are the one source an instructor edits). The
site shows, for each of them, ``docs/notebooks/NN_*.ipynb``: the same notebook run top to bottom in full mode
(``BONDLAB_SMOKE=0``, a fresh kernel, torch and BLAS at ``--threads``). Each cached copy records in its
metadata (``bondlab.docs.source_sha256``) the hash of the cells it was run from (:func:`source_key`: types,
sources and tags; not ids, outputs or notebook metadata); a copy whose hash no longer matches its notebook is
stale and is run again. The hash covers the notebook, not the library: after a change to bondlab that alters
the figures, run ``make docs-execute``.

To keep the copies small and the site static, each slider panel's output (an ipywidgets view, which needs a
kernel) is replaced by what the panel showed at the end of the run (SNAPSHOT): its controls and values as one line, its
figure as a PNG and its readout as HTML (:func:`static_widgets`); the widget state is then dropped.
"""
from __future__ import annotations

import argparse
import base64
import copy
import hashlib
import html
import json
import os
import pathlib
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
SOURCE = ROOT / "bondlab" / "notebooks"
CACHE = ROOT / "docs" / "notebooks"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def _source(cell) -> str:
    s = cell.get("source", "")
    return s if isinstance(s, str) else "".join(s)


def source_key(nb: dict) -> str:
    """sha256 of what a run depends on in notebook ``nb``: each cell's type, source and tags."""
    cells = [[c["cell_type"], _source(c), sorted(c.get("metadata", {}).get("tags", []))] for c in nb["cells"]]
    return hashlib.sha256(json.dumps(cells, ensure_ascii=False).encode()).hexdigest()


def cached_key(path: pathlib.Path) -> str | None:
    """The source hash recorded in a cached copy, or None when there is no (readable) copy."""
    try:
        return json.loads(path.read_text())["metadata"]["bondlab"]["docs"]["source_sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def stale(source_dir: pathlib.Path = SOURCE, cache_dir: pathlib.Path = CACHE) -> list[pathlib.Path]:
    """The notebooks in ``source_dir`` whose copy in ``cache_dir`` is missing or was run from other cells."""
    return [p for p in sorted(source_dir.glob("*.ipynb"))
            if cached_key(cache_dir / p.name) != source_key(json.loads(p.read_text()))]


def _models(nb: dict) -> dict:
    return nb.get("metadata", {}).get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})


def _buffer(model: dict, name: str) -> str | None:
    """A binary trait of a stored widget model (base64), e.g. an Image widget's PNG ``value``."""
    for b in model.get("buffers", []):
        if b.get("path") == [name]:
            return b["data"]
    return None


def _render(model_id: str, models: dict, controls: list, outputs: list) -> None:
    """Walk a widget tree depth first: collect controls as text, images and HTML as display outputs."""
    model = models.get(model_id)
    if model is None:
        return
    name, st = model.get("model_name", ""), model.get("state", {})
    if "children" in st:                                       # VBox, HBox, Box
        for child in st["children"]:
            _render(child.removeprefix("IPY_MODEL_"), models, controls, outputs)
    elif name == "MPLCanvasModel":                             # an ipympl figure: the PNG SNAPSHOT stored
        data = st.get("_data_url")
        if data:
            data = data.split(",", 1)[1] if data.startswith("data:") else data
            outputs.append({"output_type": "display_data", "metadata": {}, "data": {"image/png": data}})
    elif name == "ImageModel":
        data = _buffer(model, "value")
        if data:
            outputs.append({"output_type": "display_data", "metadata": {}, "data": {"image/png": data}})
    elif name in ("HTMLModel", "HTMLMathModel", "LabelModel"):
        if st.get("value"):
            outputs.append({"output_type": "display_data", "metadata": {}, "data": {"text/html": st["value"]}})
    elif name == "OutputModel":
        outputs.extend(st.get("outputs", []))
    elif "value" in st or "index" in st:                       # sliders, dropdowns, toggle buttons
        value = st.get("value")
        if "_options_labels" in st and st.get("index") is not None:
            value = st["_options_labels"][st["index"]]
        elif isinstance(value, float):
            value = f"{value:.4g}"
        controls.append(f"{html.escape(str(st.get('description', '')))} = <b>{html.escape(str(value))}</b>")


def static_widgets(nb: dict) -> dict:
    """A copy of executed notebook ``nb`` with every widget view replaced by a static snapshot of the panel."""
    nb = copy.deepcopy(nb)
    models = _models(nb)
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        new = []
        for out in cell.get("outputs", []):
            view = out.get("data", {}).get(WIDGET_VIEW)
            if view is None:
                new.append(out)
                continue
            controls, shown = [], []
            _render(view["model_id"], models, controls, shown)
            note = ("<p><em>Sliders (live in Jupyter, static here):</em> " + " &middot; ".join(controls) + "</p>"
                    if controls else "<p><em>An interactive panel: run the notebook in Jupyter.</em></p>")
            new.append({"output_type": "display_data", "metadata": {}, "data": {"text/html": note}})
            new.extend(shown)
        cell["outputs"] = new
    nb["metadata"].pop("widgets", None)
    return nb


# Run after the notebook's last cell, in its kernel: an ipympl figure (bondlab.widgets.live) is drawn only in a
# page, and there is none here, so each one's PNG is stored in its canvas's _data_url (ipympl's own trait for a
# page-less picture); the widget state then carries it to static_widgets. The cell is removed afterwards.
SNAPSHOT = """\
import base64 as _b64, io as _io
from ipywidgets.widgets.widget import _instances as _widgets
try:
    from ipympl.backend_nbagg import Canvas as _Canvas
except ImportError:
    _Canvas = ()
for _w in list(_widgets.values()):
    if _Canvas and isinstance(_w, _Canvas):
        _png = _io.BytesIO()
        _w.figure.savefig(_png, format="png", dpi=_w.figure.dpi)
        _w._data_url = _b64.b64encode(_png.getvalue()).decode("ascii")
"""


def execute(path: pathlib.Path, threads: int = 2, timeout: int = 3600) -> dict:
    """Run notebook ``path`` top to bottom in full mode in a fresh kernel; returns the executed notebook.
    Raises RuntimeError naming the first failing cell."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    # The kernel's environment (this process's is left alone): full mode even where CI is set (CI forces smoke
    # mode), and no MPLBACKEND, so that the kernel's inline backend draws the figures.
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "MPLBACKEND")}
    env.update(BONDLAB_SMOKE="0", OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads),
               OPENBLAS_NUM_THREADS=str(threads))
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(SNAPSHOT))
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", store_widget_state=True,
                            resources={"metadata": {"path": str(path.parent)}})
    try:
        client.execute(env=env)
    except CellExecutionError as e:
        raise RuntimeError(f"{path.name} failed: {str(e).splitlines()[0] if str(e) else e!r}") from e
    nb.cells.pop()                         # the SNAPSHOT cell
    return json.loads(nbformat.writes(nb))


def cached_copy(executed: dict, source: dict, seconds: float) -> dict:
    """The copy the site shows: static panels, and the source hash and run time in its metadata."""
    nb = static_widgets(executed)
    nb["metadata"].setdefault("bondlab", {})["docs"] = {
        "source_sha256": source_key(source), "mode": "full", "seconds": round(seconds)}
    for cell in nb["cells"]:               # timings and kernel chatter would change every run
        cell.get("metadata", {}).pop("execution", None)
    return nb


def refresh(paths, threads: int = 2, cache_dir: pathlib.Path = CACHE) -> list[tuple[str, float]]:
    """Run each notebook in ``paths`` and write its cached copy; returns ``[(name, seconds)]``."""
    from bondlab.student import dumps      # here, not at the top: checking the cache needs no torch import
    cache_dir.mkdir(parents=True, exist_ok=True)
    done = []
    for p in paths:
        print(f"running {p.name} in full mode ...", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        executed = execute(p, threads=threads)
        dt = time.perf_counter() - t0
        (cache_dir / p.name).write_text(dumps(cached_copy(executed, json.loads(p.read_text()), dt)))
        print(f"  {p.name}: {dt:.0f} s -> {cache_dir / p.name}", file=sys.stderr, flush=True)
        done.append((p.name, dt))
    return done


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", help="notebook file names (default: all of bondlab/notebooks/)")
    ap.add_argument("--force", action="store_true", help="run them even when their cached copy is fresh")
    ap.add_argument("--check", action="store_true", help="only list stale copies (exit 1 if there are any)")
    ap.add_argument("--threads", type=int, default=2, help="torch and BLAS threads (default 2)")
    args = ap.parse_args(argv)
    if args.threads < 1:
        ap.error(f"--threads must be a positive integer, got {args.threads}")
    every = sorted(SOURCE.glob("*.ipynb"))
    unknown = [n for n in args.names if not (SOURCE / n).is_file()]
    if unknown:
        ap.error(f"names: not notebooks in {SOURCE.relative_to(ROOT)}/: {', '.join(unknown)}")
    chosen = [SOURCE / n for n in args.names] or every
    todo = chosen if args.force else [p for p in stale() if p in chosen]
    if args.check:
        for p in todo:
            print(f"stale: docs/notebooks/{p.name} (run make docs-execute)")
        return 1 if todo else 0
    orphans = sorted(set(CACHE.glob("*.ipynb")) - {CACHE / p.name for p in every})
    for o in orphans:                      # a notebook was renamed or removed
        o.unlink()
        print(f"removed {o.relative_to(ROOT)}: no such notebook", file=sys.stderr)
    if not todo:
        print("docs/notebooks: every executed copy is up to date", file=sys.stderr)
        return 0
    try:
        refresh(todo, threads=args.threads)
    except RuntimeError as e:              # a notebook failed in full mode: one line, no half-written copy
        print(f"docs_notebooks: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
