"""The docs site's notebooks (tools/docs_notebooks.py): docs/notebooks/ holds, for every notebook, a full-mode
run of its current cells (so `make docs` on a fresh clone runs nothing), with its figures and without widget
state; slider panels become static snapshots; the maths library is served by the site itself, not a CDN."""
import base64
import importlib.util
import json
import pathlib

import pytest
import yaml

import bondlab.student as ms

ROOT = pathlib.Path(__file__).resolve().parent.parent
SOURCES = sorted((ROOT / "bondlab" / "notebooks").glob("*.ipynb"))
CACHE = ROOT / "docs" / "notebooks"

_spec = importlib.util.spec_from_file_location("docs_notebooks", ROOT / "tools" / "docs_notebooks.py")
dn = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(dn)


def _outputs(nb):
    return [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]


def _figures(cell):
    return sum("image/png" in o.get("data", {}) for o in cell.get("outputs", []))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_executed_copy_is_fresh_and_complete(path):
    src, cached = json.loads(path.read_text()), json.loads((CACHE / path.name).read_text())
    assert dn.cached_key(CACHE / path.name) == dn.source_key(src), \
        f"docs/notebooks/{path.name} was run from other cells: run make docs (or make docs-execute)"
    assert [(c["cell_type"], ms.source(c)) for c in cached["cells"]] == \
           [(c["cell_type"], ms.source(c)) for c in src["cells"]]
    assert cached["metadata"]["bondlab"]["docs"]["mode"] == "full"
    outs = _outputs(cached)
    assert not [o for o in outs if o["output_type"] == "error"]
    assert not [o for o in outs if dn.WIDGET_VIEW in o.get("data", {})] and "widgets" not in cached["metadata"]
    assert sum(_figures(c) for c in cached["cells"]) >= 3
    silent = [c["id"] for c in cached["cells"] if c["cell_type"] == "code" and ms.is_solution(c) and not c["outputs"]]
    assert not silent, f"solution cells without output: {silent}"
    assert (CACHE / path.name).stat().st_size < 3_000_000, "keep the executed copies small (PNG figures only)"


def test_there_is_nothing_else_in_the_cache():
    assert sorted(p.name for p in CACHE.iterdir()) == [p.name for p in SOURCES]
    assert dn.stale() == []


def test_notebook_04_page_has_the_overoptimization_figure_and_the_panel_snapshot():
    cached = json.loads((CACHE / "04_reward_overoptimization.ipynb").read_text())
    overopt = [c for c in cached["cells"] if "op.plot_overopt(" in ms.source(c)]
    panel = [c for c in cached["cells"] if "overopt_panel(" in ms.source(c) and "panel.widget" in ms.source(c)]
    assert len(overopt) == 1 and _figures(overopt[0]) == 1
    assert len(panel) == 1 and _figures(panel[0]) == 1
    html = " ".join(o["data"].get("text/html", "") for o in panel[0]["outputs"] if "data" in o)
    assert "m (labels) = <b>100</b>" in html and "best N" in html


def test_source_key_follows_the_cells_only():
    nb = json.loads(SOURCES[0].read_text())
    key = dn.source_key(nb)
    renamed = json.loads(json.dumps(nb))
    renamed["cells"][3]["id"] = "other"
    renamed["cells"][3]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "x"}]
    renamed["metadata"]["language_info"]["version"] = "3.99"
    assert dn.source_key(renamed) == key
    edited = json.loads(json.dumps(nb))
    edited["cells"][3]["source"] = ms.source(edited["cells"][3]) + "\n"
    assert dn.source_key(edited) != key
    tagged = json.loads(json.dumps(nb))
    tagged["cells"][3]["metadata"]["tags"] = ["solution"]
    assert dn.source_key(tagged) != key


def test_static_widgets_snapshot_of_a_real_widget_state():
    """Widget state written by ipywidgets' own embedding code (as nbclient stores it) becomes static outputs."""
    W = pytest.importorskip("ipywidgets")
    from ipywidgets.embed import embed_data
    png = b"\x89PNG\r\n\x1a\nfake"
    controls = [W.IntSlider(value=100, description="m (labels)"),
                W.FloatLogSlider(value=8.0, base=2, min=0, max=10, description="N"),
                W.Dropdown(options=["bump", "linear"], value="linear", description="reward")]
    box = W.VBox([W.HBox(controls), W.Image(value=png, format="png"), W.HTML("<b>readout</b>")])
    data = embed_data(views=[box])
    nb = {"cells": [{"cell_type": "code", "id": "c", "metadata": {}, "source": "panel.widget", "execution_count": 1,
                     "outputs": [{"output_type": "display_data", "metadata": {},
                                  "data": {dn.WIDGET_VIEW: data["view_specs"][0], "text/plain": "VBox(...)"}}]}],
          "metadata": {"widgets": {dn.WIDGET_STATE: data["manager_state"]}}}
    out = dn.static_widgets(nb)
    assert "widgets" not in out["metadata"] and "widgets" in nb["metadata"]          # a copy
    [note, image, readout] = out["cells"][0]["outputs"]
    assert all(f"{d} = <b>{v}</b>" in note["data"]["text/html"]
               for d, v in [("m (labels)", "100"), ("N", "8"), ("reward", "linear")])
    assert base64.b64decode(image["data"]["image/png"]) == png
    assert readout["data"]["text/html"] == "<b>readout</b>"
    for w in [box, *box.children, *controls]:
        w.close()


def test_static_widgets_snapshot_of_a_live_ipympl_panel():
    """A panel drawn by ipympl (bondlab.widgets.live) has no PNG until the SNAPSHOT cell stores one in its
    canvas's _data_url; the widget state then carries that picture, and static_widgets shows it."""
    W = pytest.importorskip("ipywidgets")
    pytest.importorskip("ipympl")
    from ipywidgets.embed import embed_data
    from bondlab.widgets.live import live_figure
    fig = live_figure((3, 2))
    fig.add_subplot().plot([0, 1], [1, 0])
    namespace = {}
    exec(dn.SNAPSHOT, namespace)                   # what the kernel runs after the notebook's last cell
    box = W.VBox([fig.canvas, W.HTML("<b>readout</b>")])
    data = embed_data(views=[box])
    nb = {"cells": [{"cell_type": "code", "id": "c", "metadata": {}, "source": "panel.widget", "execution_count": 1,
                     "outputs": [{"output_type": "display_data", "metadata": {},
                                  "data": {dn.WIDGET_VIEW: data["view_specs"][0], "text/plain": "VBox(...)"}}]}],
          "metadata": {"widgets": {dn.WIDGET_STATE: data["manager_state"]}}}
    [_, image, readout] = dn.static_widgets(nb)["cells"][0]["outputs"]
    import io
    from matplotlib.image import imread
    pixels = imread(io.BytesIO(base64.b64decode(image["data"]["image/png"])), format="png")
    w, h = (fig.get_size_inches() * fig.dpi).round().astype(int)
    assert pixels.shape[:2] == (h, w) and pixels[..., :3].std() > 0         # the figure, with a line drawn on it
    assert readout["data"]["text/html"] == "<b>readout</b>"
    for w in [box, *box.children]:
        w.close()


def test_the_site_serves_its_own_mathjax():
    cfg = yaml.safe_load((ROOT / "mkdocs.yml").read_text().replace("!ENV", ""))
    scripts = cfg["extra_javascript"]
    assert not [s for s in scripts if "://" in s], "no script from a CDN: the site must work offline"
    assert "tools/mkdocs_hooks.py" in cfg["hooks"] and "assets/mathjax/tex-mml-chtml.js" in scripts
    assert cfg["theme"].get("font") is False, "no web-font request"
    _hooks = importlib.util.spec_from_file_location("mkdocs_hooks", ROOT / "tools" / "mkdocs_hooks.py")
    if importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("mathjax") is None:
        pytest.skip("the docs extra is not installed (make docs installs it)")
    hooks = importlib.util.module_from_spec(_hooks)
    _hooks.loader.exec_module(hooks)
    es5 = hooks.mathjax_es5()
    assert (es5 / "tex-mml-chtml.js").stat().st_size > 500_000
    assert len(list((es5 / "output" / "chtml" / "fonts" / "woff-v2").glob("*.woff"))) >= 20
