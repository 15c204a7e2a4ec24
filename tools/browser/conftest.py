"""Fixtures for the real-browser slider tests (`make test-browser`): a Voila server on 127.0.0.1 and
Debian's headless chromium driven by Playwright. Nothing here reaches beyond localhost."""
from __future__ import annotations

import json
import os
import pathlib
import statistics
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
NOTEBOOKS = pathlib.Path(os.environ.get("BONDLAB_BROWSER_NOTEBOOKS", ROOT / "notebooks"))
ARTIFACTS = ROOT / "test-artifacts"
LATENCIES: list = []   # one dict per slider move, filled by the tests, printed at the end
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
    "--no-first-run", "--disable-component-update", "--disable-sync",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def voila_url():
    """Serve notebooks/ with Voila (smoke mode, Agg backend) and yield its base URL."""
    port = _free_port()
    env = dict(os.environ, BONDLAB_SMOKE=os.environ.get("BONDLAB_SMOKE", "1"), MPLBACKEND="Agg")
    ARTIFACTS.mkdir(exist_ok=True)
    log = open(ARTIFACTS / "voila.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "voila", str(NOTEBOOKS), "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1",
         "--show_tracebacks=True", "--Voila.open_browser=False"],
        cwd=NOTEBOOKS, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            urllib.request.urlopen(base + "/", timeout=2).read()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                log.close()
                raise RuntimeError(f"voila did not start; see {ARTIFACTS / 'voila.log'}")
            time.sleep(0.5)
    yield base
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture(scope="session")
def browser():
    """Debian's chromium (not Playwright's download), headless, with a fresh profile directory."""
    if not os.path.exists(CHROMIUM):
        raise RuntimeError(f"{CHROMIUM} is missing: run `make test-browser` (it installs chromium) "
                           "or `apt-get install -y chromium chromium-driver`")
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="bondlab-chromium-")
    with sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 1000})
        yield ctx
        ctx.close()
    shutil.rmtree(profile, ignore_errors=True)


def _ms(v):
    return "—" if v is None else f"{v:.0f}"


def pytest_terminal_summary(terminalreporter):
    """The in-page latency of every slider move (key: one arrow-key step; drag: from mouse-up), and per
    notebook the median and worst over its sliders (the figure's latency, or the readout's for a slider the
    figure does not show). Printed, never asserted."""
    if not LATENCIES:
        return
    w = terminalreporter.write_line
    w("")
    w("in-page latency, ms (figure: last frame drawn after the input; readout: last readout change)")
    w(f"{'nb':<4}{'slider':<16}{'how':<6}{'figure':>8}{'readout':>9}")
    for r in LATENCIES:
        w(f"{r['notebook']:<4}{r['slider'][:15]:<16}{r['how']:<6}{_ms(r['figure_ms']):>8}{_ms(r['readout_ms']):>9}")
    w(f"{'nb':<4}{'sliders':>8}{'key median':>12}{'key worst':>11}{'drag settle median':>20}{'drag worst':>12}")
    for nb in sorted({r["notebook"] for r in LATENCIES}):
        rows = [r for r in LATENCIES if r["notebook"] == nb]
        answer = [(r["how"], r["figure_ms"] if r["figure_ms"] is not None else r["readout_ms"]) for r in rows]
        key = [t for how, t in answer if how == "key" and t is not None]
        drag = [t for how, t in answer if how == "drag" and t is not None]
        sliders = len({r["slider"] for r in rows})
        stats = [_ms(statistics.median(x)) if x else "—" for x in (key,)] + [_ms(max(key)) if key else "—"]
        stats += [_ms(statistics.median(drag)) if drag else "—", _ms(max(drag)) if drag else "—"]
        w(f"{nb:<4}{sliders:>8}{stats[0]:>12}{stats[1]:>11}{stats[2]:>20}{stats[3]:>12}")
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "browser-latency.json").write_text(json.dumps(LATENCIES, indent=1))
