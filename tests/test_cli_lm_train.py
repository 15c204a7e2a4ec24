"""``bondlab lm jbond | reinforce`` in-process: outputs written, the checkpoint is the trained model, the
flags are the config's, same seed same numbers."""
import json

import pytest
import torch

from bondlab.cli import main
from bondlab.lm import load_checkpoint, load_pretrained

SMALL = ["--smoke", "--max-steps", "3", "--eval-every", "3", "--eval-prompts", "6", "--ref-k", "4",
         "--max-new-tokens", "8", "--threads", "1"]


def _run(tmp_path, algo, *extra, name="a"):
    out = tmp_path / name
    assert main(["lm", algo, *SMALL, *extra, "--out", str(out)]) == 0
    return json.loads((out / "history.json").read_text()), out


@pytest.mark.parametrize("algo, extra", [("jbond", ["--batch-prompts", "4", "--eta", "0.1", "--gamma", "0.5"]),
                                         ("reinforce", ["--batch-prompts", "3", "--beta-rl", "0.5"])])
def test_trains_writes_outputs_and_repeats(tmp_path, algo, extra):
    a, out = _run(tmp_path, algo, *extra, "--seed", "3")
    assert [h["step"] for h in a["history"]] == [0, 3] and a["steps"] == 3
    assert a["config"]["seed"] == 3 and a["config"]["max_steps"] == 3 and a["config"]["max_new_tokens"] == 8
    if algo == "jbond":
        assert a["config"]["eta"] == 0.1 and a["config"]["gamma"] == 0.5
    else:
        assert a["config"]["beta_rl"] == 0.5
    assert (out / "training_curves.png").stat().st_size > 0
    model, tok, info = load_checkpoint(out / "policy")
    ref, _ = load_pretrained("reviews")
    assert info["meta"]["algorithm"] == algo and info["meta"]["steps"] == 3
    assert any(not torch.equal(p, q) for p, q in zip(model.parameters(), ref.parameters()))   # it trained
    b, _ = _run(tmp_path, algo, *extra, "--seed", "3", name="b")
    strip = (lambda h: [{k: v for k, v in r.items() if k != "wall_s"} for r in h])
    assert strip(a["history"]) == strip(b["history"])


def test_bad_flags_are_one_line_naming_the_flag(tmp_path, capsys):
    assert main(["lm", "jbond", "--eta", "2", "--out", str(tmp_path)]) == 2
    assert "--eta" in capsys.readouterr().err
    assert main(["lm", "reinforce", "--samples-per-prompt", "1", "--out", str(tmp_path)]) == 2
    assert "--samples-per-prompt" in capsys.readouterr().err
    assert main(["lm", "jbond", "--gamma", "nan", "--out", str(tmp_path)]) == 2
    assert "--gamma" in capsys.readouterr().err


def test_outputs_are_not_clobbered_without_force(tmp_path, capsys):
    _run(tmp_path, "jbond", "--batch-prompts", "2")
    assert main(["lm", "jbond", *SMALL, "--batch-prompts", "2", "--out", str(tmp_path / "a")]) == 2
    assert "--force" in capsys.readouterr().err
