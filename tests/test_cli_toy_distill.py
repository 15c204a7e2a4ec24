"""``bondlab toy divergences|iterative|jbond``: JSON layout, figures, recomputed figures, bad input."""

import numpy as np
import pytest

import bondlab as B
from bondlab.cli import main
from bondlab.outputs import loads_strict
from bondlab.train import METRICS


def _run(tmp_path, *args):
    out, js = tmp_path / "out", tmp_path / "r.json"
    rc = main(["toy", *args, "--out", str(out), "--json", str(js), "--smoke"])
    assert rc == 0
    return loads_strict(js.read_text()), out


def test_divergences(tmp_path):
    res, out = _run(tmp_path, "divergences", "--steps", "30", "--n", "3", "--beta", "0.3")
    assert res["config"]["n"] == 3 and res["config"]["beta"] == 0.3 and res["config"]["steps"] == 30
    h = res["history"]
    assert set(METRICS) <= set(h) and all(len(h[m]) == 30 for m in METRICS)
    np.testing.assert_allclose(h["jeffreys"], 0.7 * np.array(h["fwd_kl"]) + 0.3 * np.array(h["bwd_kl"]))
    assert res["runs"]["backward"]["entropy"][-1] < res["runs"]["forward"]["entropy"][-1]
    assert (out / "divergences.png").stat().st_size > 1000


def test_iterative_records_bon_equivalent_n(tmp_path):
    res, out = _run(tmp_path, "iterative", "--steps", "40", "--n", "2")
    assert res["bon_equivalent_n"] == [2.0, 4.0, 8.0, 16.0]
    assert len(res["history"]["quantile"]) == 40 and (out / "iterative.png").exists()
    res2, _ = _run(tmp_path, "iterative", "--steps", "40", "--eta", "0.1", "--force")
    assert res2["bon_equivalent_n"] == []


def test_jbond_same_seed_same_history(tmp_path):
    a, out = _run(tmp_path, "jbond", "--steps", "20", "--gamma", "1", "--seed", "3")
    b, _ = _run(tmp_path, "jbond", "--steps", "20", "--gamma", "1", "--seed", "3", "--force")  # same files again
    assert a["history"] == b["history"] and a["config"]["gamma"] == 1.0 and a["config"]["eta"] == 0.05
    assert "reinforce_0.1" in a["baselines"] and (out / "jbond.png").exists()
    sp = B.grid_mixture(k=101, weights=(0.6, 0.4), reward="linear")
    assert a["history"]["kl_ref"][0] < B.bon_kl(sp.ref_probs, sp.rewards, 2)     # one small step from pi_ref


@pytest.mark.parametrize("args, word", [(["jbond", "--n", "4"], "does not take --n"), (["divergences", "--beta", "2"], "--beta"),
                                        (["iterative", "--eta", "0"], "--eta"), (["jbond", "--gamma", "-1"], "--gamma"),
                                        (["divergences", "--steps", "0"], "--steps"),
                                        (["iterative", "--steps", "3"], "--steps must be >= 4")])
def test_bad_input_is_one_clear_line(tmp_path, capsys, args, word):
    assert main(["toy", *args, "--out", str(tmp_path)]) == 2
    assert word in capsys.readouterr().err


def test_json_is_strict_at_a_large_n(tmp_path):
    """Best-of-1000 underflows probabilities; whatever a metric does there, the file parses strictly and
    holds finite numbers or null, never NaN / Infinity."""
    res, _ = _run(tmp_path, "iterative", "--steps", "4", "--n", "1000")
    assert res["config"]["n"] == 1000 and "gamma" not in res["config"] and "family" not in res["config"]
    for key in ("fwd_kl", "bwd_kl", "kl_ref"):
        assert len(res["history"][key]) == 4
        assert all(v is None or np.isfinite(v) for v in res["history"][key])
