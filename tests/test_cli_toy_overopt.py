"""``bondlab toy overopt``: figures, the JSON record (checked against the exact law), bad input."""

import numpy as np
import pytest

from bondlab.bon import bon_probs
from bondlab.cli import main
from bondlab.outputs import loads_strict
from bondlab.overopt import OveroptConfig, make_space
from bondlab.proxy import fit_proxy
from bondlab.theory import bon_kl, gao_bon


@pytest.fixture(scope="module")
def record(tmp_path_factory):
    d = tmp_path_factory.mktemp("overopt")
    rc = main(["toy", "overopt", "--m", "30", "--noise", "0.3", "--seed", "2", "--out", str(d / "figs"),
               "--json", str(d / "out.json"), "--smoke"])
    assert rc == 0
    return d, loads_strict((d / "out.json").read_text())


def test_writes_figures_and_json_keys(record):
    d, rec = record
    assert (d / "figs" / "overopt.png").stat().st_size > 1000
    assert (d / "figs" / "quantile_view.png").stat().st_size > 1000
    for key in ("n", "kl", "gold", "proxy", "best_n_true", "best_n_fit", "fit", "config"):
        assert key in rec
    assert len(rec["n"]) == len(rec["kl"]) == len(rec["gold"]) == len(rec["proxy"]) >= 10
    assert rec["n"][0] == 1 and rec["n"][-1] == 10_000
    assert set(rec["fit"]) == {"bon", "rl"}
    assert rec["bond"]["n"] == [4, 16] and len(rec["bond"]["gold"]) == 2   # smoke mode's BOND points
    assert rec["config"]["m"] == 30 and rec["config"]["noise"] == 0.3 and rec["config"]["seed"] == 2


def test_json_curves_are_the_exact_best_of_n_law(record):
    """Recompute from the config alone: same proxy (same seed), then bon_probs and bon_kl at each N."""
    _, rec = record
    cfg = OveroptConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in rec["config"].items()})
    sp = make_space(cfg)
    proxy = fit_proxy(sp.x, sp.ref_probs, sp.rewards, cfg.proxy_config(), rng=np.random.default_rng(cfg.seed)).rewards
    for i in (0, 3, len(rec["n"]) // 2, len(rec["n"]) - 1):
        n = rec["n"][i]
        p = bon_probs(sp.ref_probs, proxy, n)
        assert rec["gold"][i] == pytest.approx(p @ sp.rewards, rel=1e-9, abs=1e-12)
        assert rec["proxy"][i] == pytest.approx(p @ proxy, rel=1e-9, abs=1e-12)
        assert rec["kl"][i] == pytest.approx(bon_kl(sp.ref_probs, proxy, n), rel=1e-9, abs=1e-12)
    # the true best N is at least as good as every grid point; the fitted pick maximises the fitted curve
    best = bon_probs(sp.ref_probs, proxy, rec["best_n_true"]) @ sp.rewards
    assert best >= max(rec["gold"]) - 1e-12
    assert 1 < rec["best_n_true"] < 10_000
    f = rec["fit"]["bon"]
    d_fit = np.sqrt(bon_kl(sp.ref_probs, proxy, rec["best_n_fit"]))
    fitted = gao_bon(np.sqrt(rec["kl"]), f["alpha"], f["beta"])
    assert gao_bon(d_fit, f["alpha"], f["beta"]) >= fitted.max() - 1e-12


def test_same_seed_same_record(record, tmp_path):
    _, rec = record
    assert main(["toy", "overopt", "--m", "30", "--noise", "0.3", "--seed", "2", "--out", str(tmp_path),
                 "--json", str(tmp_path / "again.json"), "--smoke"]) == 0
    assert loads_strict((tmp_path / "again.json").read_text()) == rec


@pytest.mark.parametrize("args, word", [(["--m", "0"], "--m"), (["--noise", "1.5"], "--noise"),
                                        (["--seed", "-3"], "--seed"), (["--capacity", "0"], "--capacity")])
def test_bad_input_is_one_clear_line(args, word, capsys, tmp_path):
    assert main(["toy", "overopt", "--smoke", "--out", str(tmp_path)] + args) == 2
    err = capsys.readouterr().err
    assert err.startswith("bondlab toy overopt: error: argument " + word) and err.count("\n") == 1
