"""``bondlab toy bon``: its table agrees with brute-force enumeration (exact column) and with the exact law
within Monte Carlo error (sampled column); it writes its figures; bad input exits 2 with a clear message."""
import csv

import numpy as np
import pytest

from bondlab import grid_mixture, tie_example
from bondlab.cli import main
from bondlab.outputs import loads_strict
from helpers import enumerate_bon  # tests/helpers.py

SMOKE_SAMPLES = 20_000


def read_table(path):
    with open(path) as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    import contextlib
    import io
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(["toy", "bon", "--smoke", "--n", "4", "--seed", "3", "--out", str(out)])
    return rc, buf.getvalue(), out


def test_exit_code_and_files(smoke_run):
    rc, text, out = smoke_run
    assert rc == 0
    for name in ["bon_mixture.png", "bon_ties.png", "bon_quantile_law.png", "bon_kl_vs_bound.png"]:
        data = (out / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000, name
    assert "Best-of-4" in text and f"{SMOKE_SAMPLES:,}" in text and "smoke mode" in text


def test_exact_column_matches_enumeration(smoke_run):
    _, text, out = smoke_run
    rows = read_table(out / "toy_bon.csv")
    ties = [r for r in rows if r["space"] == "ties"]
    s = tie_example()
    want = enumerate_bon(s.ref_probs, s.rewards, 4)
    np.testing.assert_allclose([float(r["exact"]) for r in ties], want, atol=1e-12)
    for r, w in zip(ties, want):
        assert f"{w:13.4f}" in text  # the printed table shows the same numbers
    # per reward level: mass F(r)^4 - F(r-)^4 from enumeration on the step-reward mixture, summed per level
    levels = [r for r in rows if r["space"] == "mixture/steps"]
    m = grid_mixture(reward="steps")
    assert len(levels) == np.unique(m.rewards).size
    for r in levels:
        in_level = m.rewards == float(r["reward"])
        f_hi = m.ref_probs[m.rewards <= float(r["reward"])].sum()
        f_lo = m.ref_probs[m.rewards < float(r["reward"])].sum()
        assert float(r["exact"]) == pytest.approx(f_hi ** 4 - f_lo ** 4, abs=1e-12)
        assert float(r["pi_ref"]) == pytest.approx(m.ref_probs[in_level].sum(), abs=1e-12)


def test_sampled_column_within_monte_carlo_error(smoke_run):
    _, _, out = smoke_run
    rows = read_table(out / "toy_bon.csv")
    assert len(rows) == 6 + 5
    for r in rows:
        p, f = float(r["exact"]), float(r["sampled"])
        sd = np.sqrt(p * (1 - p) / SMOKE_SAMPLES)
        assert abs(f - p) <= 5 * sd + 1e-9, r
        assert float(r["z"]) == pytest.approx((f - p) / sd if sd > 0 else 0.0, abs=1e-9)


def test_same_seed_same_table(tmp_path, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    assert main(["toy", "bon", "--n", "2", "--samples", "3000", "--seed", "5", "--out", str(a)]) == 0
    assert main(["toy", "bon", "--n", "2", "--samples", "3000", "--seed", "5", "--out", str(b)]) == 0
    assert (a / "toy_bon.csv").read_text() == (b / "toy_bon.csv").read_text()
    assert "3,000 sampled" in capsys.readouterr().out


@pytest.mark.parametrize("bad", ["0", "-3", "2.5", "abc", "nan", "inf"])
def test_bad_n_exits_2_with_a_clear_message(bad, tmp_path, capsys):
    assert main(["toy", "bon", "--n", bad, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"argument --n: must be a whole number >= 1, got '{bad}'" in err and "Traceback" not in err
    assert not any(tmp_path.iterdir())  # nothing written


def test_bad_samples_exits_2(tmp_path, capsys):
    assert main(["toy", "bon", "--samples", "0", "--out", str(tmp_path)]) == 2
    assert "argument --samples: must be a whole number >= 1" in capsys.readouterr().err


def test_json_holds_the_table_and_summaries(tmp_path):
    js = tmp_path / "bon.json"
    assert main(["toy", "bon", "--n", "3", "--samples", "2000", "--out", str(tmp_path / "o"), "--json", str(js)]) == 0
    d = loads_strict(js.read_text())
    assert d["config"]["n"] == 3 and d["config"]["samples"] == 2000
    assert d["table"] == [{k: (v if k in ("space", "unit", "label") else float(v)) for k, v in row.items()}
                          for row in read_table(tmp_path / "o" / "toy_bon.csv")]
    assert d["summary"]["ties"]["bound"] == pytest.approx(np.log(3) - 2 / 3, rel=1e-12)
    assert d["summary"]["ties"]["kl"] <= d["summary"]["ties"]["bound"]
