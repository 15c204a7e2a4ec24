"""`bondlab lm pretrain | sample | exact` end to end through bondlab.cli.main."""

import numpy as np
import pytest
import torch

from bondlab.cli import main
from bondlab.lm import load_pretrained, micro_space, VaderReward
from bondlab.outputs import loads_strict
from bondlab.theory import bon_kl, bon_kl_bound


KEYS = {"num_sequences", "ref_mass", "bon_kl_exact", "bon_kl_bound", "mc_draws", "reward_tv"}


def test_lm_exact_writes_the_issue_keys(tmp_path):
    out = tmp_path / "exact.json"
    assert main(["lm", "exact", "--n", "4", "--draws", "3000", "--json", str(out)]) == 0
    d = loads_strict(out.read_text())
    assert KEYS <= set(d)
    assert d["num_sequences"] == 19531 and abs(d["ref_mass"] - 1) < 1e-5 and d["mc_draws"] == 3000
    # independent oracle: numpy's level-form KL on the same pi_ref
    model, _ = load_pretrained("micro")
    space = micro_space()
    with torch.no_grad():
        p = torch.exp(space.log_probs(model)).numpy()
    assert d["bon_kl_exact"] == pytest.approx(bon_kl(p / p.sum(), space.rewards.numpy(), 4), rel=1e-7)
    assert d["bon_kl_bound"] == pytest.approx(bon_kl_bound(4)) and d["bon_kl_exact"] <= d["bon_kl_bound"]
    assert 0 <= d["reward_tv"] < 0.05                       # MC error with 3000 draws over 5 levels
    assert sum(d["reward_law_exact"]) == pytest.approx(1) and sum(d["reward_law_mc"]) == pytest.approx(1)


def test_lm_sample_prints_candidates_and_keeps_the_best(capsys):
    assert main(["lm", "sample", "--n", "5", "--prompt", "the food was", "--seed", "3"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    cands = [l for l in lines if l[:1] in ("*", " ") and "the food was" in l]
    assert len(cands) == 5
    fields = [l[1:].split(None, 2) for l in cands]           # index, reward, text
    assert [int(f[0]) for f in fields] == list(range(5))
    texts = [f[2] for f in fields]
    rewards = VaderReward()(texts)
    shown = np.array([float(f[1]) for f in fields])
    assert np.allclose(shown, rewards, atol=5e-4)
    best = int(np.argmax(rewards))
    assert cands[best].startswith("*") and lines[-1].startswith(f"kept: #{best} ")


def test_lm_sample_is_reproducible_and_takes_the_proxy(capsys):
    main(["lm", "sample", "--n", "3", "--seed", "1"])
    a = capsys.readouterr().out
    main(["lm", "sample", "--n", "3", "--seed", "1"])
    assert capsys.readouterr().out == a
    assert main(["lm", "sample", "--n", "2", "--reward", "proxy", "--prompt", "the movie is"]) == 0
    assert "kept:" in capsys.readouterr().out


def test_lm_pretrain_writes_a_loadable_checkpoint(tmp_path, capsys):
    assert main(["lm", "pretrain", "--model", "micro", "--steps", "3", "--out", str(tmp_path)]) == 0
    assert "wrote" in capsys.readouterr().out
    model, tok = load_pretrained(path=tmp_path / "micro")
    assert model.cfg.vocab_size == tok.vocab_size == 8
    assert loads_strict((tmp_path / "micro.json").read_text())["config"]["vocab_size"] == 8   # strict sidecar
    assert main(["lm", "pretrain", "--model", "micro", "--steps", "3", "--out", str(tmp_path)]) == 2   # no clobbering
    assert "--force" in capsys.readouterr().err


def test_lm_bad_input_is_one_clear_line(capsys, tmp_path):
    assert main(["lm", "sample", "--n", "0"]) == 2
    assert "--n" in capsys.readouterr().err
    assert main(["lm", "sample", "--n", "2", "--prompt", "the zebra was"]) == 2
    err = capsys.readouterr().err
    assert "--prompt" in err and "zebra" in err
    assert main(["lm", "sample", "--n", "2", "--prompt", " ".join(["the food was"] * 3)]) == 2   # 9 words + 24 > 32
    assert "--prompt has 9 words" in capsys.readouterr().err
    assert main(["lm", "exact", "--n", "2", "--draws", "-1", "--json", str(tmp_path / "x.json")]) == 2
    assert "--draws" in capsys.readouterr().err
    assert main(["lm", "exact", "--n", "2", "--json", str(tmp_path / "no" / "x.json")]) == 2
    assert "--json" in capsys.readouterr().err
