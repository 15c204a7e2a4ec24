"""Every slider of notebooks 01-06 in a real browser: Voila renders each notebook, headless chromium moves
each slider of its panel as a person would (one arrow-key step on the focused handle, then a mouse drag
along the track), and the panel's readout text and the figure's pixels must change each time. The page
itself times each move (a listener on the key or the mouse-up, observers on the figure and the readout) and
the summary at the end prints those latencies per slider and per notebook; nothing asserts on time
(timings belong in benchmarks/bench_widgets.py). Screenshots go to test-artifacts/, the latencies to
test-artifacts/browser-latency.json. Run with `make test-browser` (it installs chromium, voila, playwright).

To time another revision of the package with the same harness (its panels drew PNG images):
``git archive REV bondlab | tar -x -C /tmp/old && PYTHONPATH=/tmp/old BONDLAB_SMOKE=1 MPLBACKEND=Agg
.venv/bin/python -m pytest -p no:cacheprovider -ra tools/browser`` (Voila's kernel inherits PYTHONPATH).

A panel is the innermost widget box holding a figure (ipympl's canvas, or an image) and the slider.
Notebook 06's beta, eta, gamma and lr set the next training's config and leave its figure as it is: for
those only the readout must change.
Notebook 01 is required; the others are tested when present (a skip, reported by -ra, says when not).
"""
from __future__ import annotations

import time

import pytest

from conftest import ARTIFACTS, LATENCIES, NOTEBOOKS

# (notebook prefix, number of sliders its panel must have, required?)
CASES = [("01", 2, True), ("02", 2, False), ("03", 3, False), ("04", 5, False), ("05", 5, False), ("06", 5, False)]
# sliders whose panel figure does not depend on them (06: they set the next training's config): readout only
READOUT_ONLY = {"06": {"beta", "eta", "gamma", "lr"}}
LOAD_TIMEOUT_MS = 300_000   # Voila runs the whole notebook (smoke mode) before the widgets appear
CHANGE_TIMEOUT_S = 30       # how long one move may take to redraw before the test gives up on it
QUIET_S = 0.7               # a move has settled when nothing in the panel changed for this long
FIGURE = "canvas, img"

# In-page probe: timestamps (performance.now) of the last key press / mouse-up, of every frame drawn into a
# canvas or image source set, and of every change of a readout's HTML.
PROBE = """
(() => {
  if (window.__bl) return;
  const bl = window.__bl = {input: 0, draws: [], texts: []};
  const now = () => performance.now();
  document.addEventListener('keydown', () => { bl.input = now(); }, true);
  document.addEventListener('mouseup', () => { bl.input = now(); }, true);
  const draw = CanvasRenderingContext2D.prototype.drawImage;
  CanvasRenderingContext2D.prototype.drawImage = function (...a) {
    bl.draws.push([now(), this.canvas]); return draw.apply(this, a); };
  const put = CanvasRenderingContext2D.prototype.putImageData;
  CanvasRenderingContext2D.prototype.putImageData = function (...a) {
    bl.draws.push([now(), this.canvas]); return put.apply(this, a); };
  new MutationObserver(ms => { for (const m of ms) {
      const el = m.target.nodeType === 1 ? m.target : m.target.parentElement;
      if (!el) continue;
      if (el.tagName === 'IMG' && m.attributeName === 'src') bl.draws.push([now(), el]);
      else if (el.closest && el.closest('.widget-html, .widget-htmlmath')) bl.texts.push([now(), el.closest('.widget-html, .widget-htmlmath')]);
  } }).observe(document, {subtree: true, childList: true, characterData: true, attributes: true, attributeFilter: ['src']});
})();
"""
# the latest draw into the panel's figure and change of its readout since the last input, relative to it
SINCE_INPUT = """([panel, readout]) => {
  const bl = window.__bl, t0 = bl.input;
  const last = (xs, inside) => { let t = null; for (const [s, el] of xs) if (s >= t0 && inside(el)) t = s; return t; };
  const d = last(bl.draws, el => panel.contains(el)), r = last(bl.texts, el => el === readout || readout.contains(el));
  return {draw: d === null ? null : d - t0, readout: r === null ? null : r - t0, now: performance.now() - t0};
}"""


def _notebook(prefix: str):
    found = sorted(NOTEBOOKS.glob(f"{prefix}_*.ipynb"))
    return found[0] if found else None


def test_notebook_01_is_there():
    assert _notebook("01") is not None, f"no notebook 01_*.ipynb in {NOTEBOOKS}"


def _panels(page):
    """[(panel, figure, readout, [sliders])] for every panel on the page."""
    out = []
    for fig in page.locator(f".widget-box :is({FIGURE})").all():
        if fig.evaluate("el => el.tagName") == "CANVAS" and fig.evaluate("el => !!el.previousElementSibling"):
            continue   # ipympl's second (rubber-band) canvas
        panel = fig.locator("xpath=ancestor::div[contains(concat(' ', @class, ' '), ' widget-box ')]"
                            "[.//div[contains(concat(' ', @class, ' '), ' widget-slider ')]]").last
        sliders = panel.locator(".widget-slider").all()
        if sliders:
            out.append((panel, fig, panel.locator(".widget-html, .widget-htmlmath").last, sliders))
    return out


def _label(slider) -> str:
    return slider.locator(".widget-label").first.inner_text().strip()


def _value(slider) -> str:
    return slider.locator(".widget-readout").first.inner_text().strip()


def _settle(page, panel, readout, text_before: str) -> dict:
    """Wait until the readout differs from ``text_before`` and nothing in the panel changed for QUIET_S."""
    handles = [panel.element_handle(), readout.element_handle()]
    deadline = time.monotonic() + CHANGE_TIMEOUT_S
    while time.monotonic() < deadline:
        page.wait_for_timeout(100)
        t = page.evaluate(SINCE_INPUT, handles)
        last = max(x for x in (t["draw"], t["readout"], 0) if x is not None)
        if t["readout"] is not None and readout.inner_text() != text_before and t["now"] - last > 1e3 * QUIET_S:
            return t
    return page.evaluate(SINCE_INPUT, handles)


def _key_step(page, slider):
    handle = slider.locator(".noUi-handle").first
    before = _value(slider)
    handle.focus()
    page.keyboard.press("ArrowRight")
    if _value(slider) == before:      # at the top end: step down instead
        page.keyboard.press("ArrowLeft")


def _drag(page, slider, fraction: float):
    """Drag the handle by ``fraction`` of the track, as a person would: press, move in steps, release."""
    handle = slider.locator(".noUi-handle").first
    track = slider.locator(".noUi-base, .noUi-target").first
    hb, tb = handle.bounding_box(), track.bounding_box()
    x0, y0 = hb["x"] + hb["width"] / 2, hb["y"] + hb["height"] / 2
    if x0 + fraction * tb["width"] > tb["x"] + tb["width"] - 2:
        fraction = -fraction
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x0 + fraction * tb["width"], y0, steps=12)
    page.mouse.up()


@pytest.mark.parametrize("prefix,n_sliders,required", CASES, ids=[c[0] for c in CASES])
def test_every_slider_changes_figure_and_readout(browser, voila_url, prefix, n_sliders, required):
    nb = _notebook(prefix)
    if nb is None:
        assert not required, f"notebook {prefix}_*.ipynb is missing from {NOTEBOOKS}"
        pytest.skip(f"notebook {prefix} has not landed yet")   # reported by -ra, never silent
    page = browser.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.add_init_script(PROBE)
    page.goto(f"{voila_url}/voila/render/{nb.name}", timeout=LOAD_TIMEOUT_MS)
    page.locator(".widget-slider").first.wait_for(state="visible", timeout=LOAD_TIMEOUT_MS)
    page.locator(f".widget-box :is({FIGURE})").first.wait_for(state="visible", timeout=LOAD_TIMEOUT_MS)
    page.wait_for_timeout(3000)   # panels draw their axes ahead when the page attaches (about 1-1.6 s here)
    panels = _panels(page)
    assert sum(len(s) for *_, s in panels) >= n_sliders, f"{nb.name}: expected {n_sliders} sliders in its panels"
    failures, rows = [], []
    for panel, fig, readout, sliders in panels:
        panel.scroll_into_view_if_needed()
        for slider in sliders:
            label = _label(slider)
            for how in ("key", "drag"):
                text_before, value_before, png_before = readout.inner_text(), _value(slider), fig.screenshot()
                _key_step(page, slider) if how == "key" else _drag(page, slider, 0.3)
                if _value(slider) == value_before:
                    failures.append(f"{label} ({how}): the slider did not move (still {value_before})")
                    continue
                t = _settle(page, panel, readout, text_before)
                if readout.inner_text() == text_before:
                    failures.append(f"{label} ({how}) {value_before} -> {_value(slider)}: readout unchanged")
                if label not in READOUT_ONLY.get(prefix, ()) and fig.screenshot() == png_before:
                    failures.append(f"{label} ({how}) {value_before} -> {_value(slider)}: figure pixels unchanged")
                rows.append(dict(notebook=prefix, slider=label, how=how, readout_ms=t["readout"],
                                 figure_ms=None if label in READOUT_ONLY.get(prefix, ()) else t["draw"]))
        panel.screenshot(path=str(ARTIFACTS / f"{nb.stem}-panel.png"))
    LATENCIES.extend(rows)
    page.screenshot(path=str(ARTIFACTS / f"{nb.stem}.png"), full_page=True)
    page.close()
    assert not failures, failures
    assert not errors, f"JavaScript errors on the page: {errors}"
