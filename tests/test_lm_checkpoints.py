"""Checkpoints: safetensors + a JSON sidecar with config and sha256; damaged files give clear errors."""
import hashlib
import json
import shutil

import pytest
import torch

from bondlab.lm import GPT, GPTConfig, load_checkpoint, load_pretrained, micro_tokenizer, save_checkpoint
from bondlab.lm import asset_path


def tiny():
    torch.manual_seed(0)
    tok = micro_tokenizer()
    return GPT(GPTConfig(vocab_size=8, block_size=8, n_layer=1, n_head=2, n_embd=8, no_emit=(0, 2))), tok


def test_round_trip(tmp_path):
    m, tok = tiny()
    path = save_checkpoint(m, tok, tmp_path / "m", {"note": "x"})
    info = json.loads((tmp_path / "m.json").read_text())
    assert info["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert info["num_bytes"] == path.stat().st_size and info["meta"] == {"note": "x"}
    for p in (tmp_path / "m", path, tmp_path / "m.json"):
        m2, tok2, _ = load_checkpoint(p)
        assert tok2 == tok and m2.cfg == m.cfg
        x = torch.tensor([[2, 3, 4, 5]])
        assert torch.equal(m(x), m2(x))
    m3, tok3 = load_pretrained(path=path)
    assert m3.cfg == m.cfg


def test_sha_mismatch_truncation_and_missing(tmp_path):
    m, tok = tiny()
    path = save_checkpoint(m, tok, tmp_path / "m")
    good = path.read_bytes()
    bad = bytearray(good)
    bad[len(bad) // 2] ^= 0xFF
    path.write_bytes(bytes(bad))
    with pytest.raises(ValueError, match=r"m\.safetensors.*sha256"):
        load_checkpoint(path)
    path.write_bytes(good[:-100])
    with pytest.raises(ValueError, match=r"m\.safetensors.*truncated"):
        load_checkpoint(path)
    path.unlink()
    with pytest.raises(ValueError, match=r"m\.safetensors.*missing"):
        load_checkpoint(path)
    with pytest.raises(ValueError, match=r"nothere\.json.*missing"):
        load_pretrained(path=tmp_path / "nothere.safetensors")
    (tmp_path / "m.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"m\.json.*damaged"):
        load_checkpoint(tmp_path / "m")


@pytest.mark.parametrize("name", ["reviews", "micro"])
def test_shipped_checkpoints_load_and_are_small(name, tmp_path):
    model, tok = load_pretrained(name)
    weights = asset_path(name).with_suffix(".safetensors")
    assert weights.stat().st_size < 5e6
    assert model.cfg.vocab_size == tok.vocab_size
    # a damaged copy of the shipped file is caught
    shutil.copy(weights, tmp_path / f"{name}.safetensors")
    shutil.copy(asset_path(name).with_suffix(".json"), tmp_path / f"{name}.json")
    with open(tmp_path / f"{name}.safetensors", "r+b") as f:
        f.seek(-8, 2)
        f.write(b"\x00" * 8)
    with pytest.raises(ValueError, match="sha256"):
        load_pretrained(path=tmp_path / name)


def test_unknown_name():
    with pytest.raises(ValueError, match="name must be one of"):
        load_pretrained("gpt2")


def test_pretraining_is_reproducible():
    from dataclasses import replace

    from bondlab.lm.pretrain import pretrain, train_config
    cfg = replace(train_config("micro"), steps=6, corpus_size=500, batch_size=16)
    a, _, ha = pretrain("micro", cfg, progress=False)
    b, _, hb = pretrain("micro", cfg, progress=False)
    assert ha["loss"] == hb["loss"]
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    assert ha["loss"][-1] < ha["loss"][0]


def _rewrite(path, state=None, **sidecar):
    """Rewrite a checkpoint's weights (``state``) and/or sidecar fields, the size and sha256 recomputed so
    that only the damage itself is left to find."""
    from safetensors.torch import save_file
    weights, js = path.with_suffix(".safetensors"), path.with_suffix(".json")
    if state is not None:
        save_file(state, str(weights))
    info = json.loads(js.read_text())
    for k, v in sidecar.items():
        info[k] = v
    info["num_bytes"] = weights.stat().st_size
    info["sha256"] = hashlib.sha256(weights.read_bytes()).hexdigest()
    js.write_text(json.dumps(info))


@pytest.mark.parametrize("field,value", [("n_embd", 16), ("vocab_size", 9), ("n_layer", 2), ("block_size", 4)])
def test_a_sidecar_config_that_does_not_fit_the_tensors_is_refused(tmp_path, field, value):
    m, tok = tiny()
    path = save_checkpoint(m, tok, tmp_path / "m").with_suffix("")
    cfg = {**m.cfg.to_dict(), field: value}
    words = list(tok.words) + ["extra"] * (value - len(tok.words)) if field == "vocab_size" else list(tok.words)
    _rewrite(path, config=cfg, words=words)
    with pytest.raises(ValueError, match=r"m\.safetensors.*(shape|missing)"):
        load_checkpoint(path)


def test_a_word_list_that_does_not_fit_vocab_size_is_refused(tmp_path):
    m, tok = tiny()
    path = save_checkpoint(m, tok, tmp_path / "m").with_suffix("")
    for words in (list(tok.words)[:-1], list(tok.words) + ["extra"]):
        _rewrite(path, words=words)
        with pytest.raises(ValueError, match=r"m\.json.*words for vocab_size 8"):
            load_checkpoint(path)
    _rewrite(path, words=list(tok.words), config={**m.cfg.to_dict(), "no_emit": [0, 99]})
    with pytest.raises(ValueError, match=r"m\.json.*no_emit"):
        load_checkpoint(path)
    _rewrite(path, config={**m.cfg.to_dict(), "n_head": 3})
    with pytest.raises(ValueError, match=r"m\.json.*n_head"):
        load_checkpoint(path)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_weights_with_a_matching_checksum_are_refused(tmp_path, bad):
    m, tok = tiny()
    path = save_checkpoint(m, tok, tmp_path / "m").with_suffix("")
    state = {k: v.clone() for k, v in m.state_dict().items()}
    state["blocks.0.mlp.0.weight"][3, 1] = bad
    _rewrite(path, state=state)
    with pytest.raises(ValueError, match=r"m\.safetensors.*blocks\.0\.mlp\.0\.weight.*NaN or infinite"):
        load_checkpoint(path)
    state = {k: v.clone() for k, v in m.state_dict().items()}
    state["wpe.weight"] = state["wpe.weight"][:-1].contiguous()          # one position short
    _rewrite(path, state=state)
    with pytest.raises(ValueError, match=r"m\.safetensors.*wpe\.weight.*shape"):
        load_checkpoint(path)
