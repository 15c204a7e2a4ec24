"""Checkpoints: safetensors weights (never pickle) with a JSON beside them holding the config, the
tokenizer's words, the file's size and its sha256. Loading checks all three and names the file at fault,
then checks the sidecar against the tensors before a model is built: every tensor's shape is the one the
config implies, the word list has ``vocab_size`` words, and every weight is finite.

    <stem>.safetensors   the weights
    <stem>.json          {"format": "bondlab-gpt/1", "config": {...}, "words": [...], "file": "<stem>.safetensors",
                          "num_bytes": ..., "sha256": "...", "meta": {...}}
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch
from safetensors.torch import load as st_load
from safetensors.torch import save_file

from ..outputs import write_json
from .corpus import Tokenizer
from .model import GPT, GPTConfig

__all__ = ["save_checkpoint", "load_checkpoint", "sha256_of", "check_tensors", "expected_shapes"]

FORMAT = "bondlab-gpt/1"


def sha256_of(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _paths(path) -> tuple[Path, Path]:
    """Accept 'x', 'x.safetensors' or 'x.json' and return (weights, sidecar)."""
    p = Path(path)
    stem = p.with_suffix("") if p.suffix in (".safetensors", ".json") else p
    return stem.with_suffix(".safetensors"), stem.with_suffix(".json")


def save_checkpoint(model: GPT, tokenizer: Tokenizer, path, meta: dict | None = None) -> Path:
    """Write ``<stem>.safetensors`` and ``<stem>.json``; returns the weights' path."""
    if not isinstance(model, GPT):
        raise ValueError(f"model must be a bondlab.lm.GPT, got {type(model).__name__}")
    weights, sidecar = _paths(path)
    weights.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to(torch.float32).contiguous().clone() for k, v in model.state_dict().items()}
    save_file(state, str(weights))
    info = {"format": FORMAT, "config": model.cfg.to_dict(), "words": list(tokenizer.words),
            "file": weights.name, "num_bytes": weights.stat().st_size, "sha256": sha256_of(weights),
            "meta": meta or {}}
    write_json(sidecar, info)                 # strict JSON, written atomically
    return weights


def expected_shapes(cfg: GPTConfig) -> dict[str, tuple]:
    """{name: shape} of the state dict a GPT with ``cfg`` has, computed on the meta device (no memory)."""
    with torch.device("meta"):
        return {k: tuple(v.shape) for k, v in GPT(cfg).state_dict().items()}


def check_tensors(state: dict, shapes: dict, where) -> None:
    """ValueError naming ``where`` unless ``state`` holds exactly the tensors of ``shapes`` ({name: shape}),
    each of that shape, floating point and finite (a NaN or inf weight would load silently otherwise)."""
    missing, unexpected = sorted(set(shapes) - set(state)), sorted(set(state) - set(shapes))
    if missing or unexpected:
        raise ValueError(f"checkpoint file {where} does not match its config: missing {missing[:5]}, "
                         f"unexpected {unexpected[:5]}")
    for k, shape in shapes.items():
        t = state[k]
        if tuple(t.shape) != tuple(shape):
            raise ValueError(f"checkpoint file {where}: tensor {k} has shape {tuple(t.shape)}, "
                             f"its config implies {tuple(shape)}")
        if not t.is_floating_point():
            raise ValueError(f"checkpoint file {where}: tensor {k} has dtype {t.dtype}, expected floating point")
        if not bool(torch.isfinite(t).all()):
            raise ValueError(f"checkpoint file {where}: tensor {k} holds NaN or infinite values")


def load_checkpoint(path) -> tuple[GPT, Tokenizer, dict]:
    """Load ``(model, tokenizer, info)``, checking size and sha256. Every failure is a ValueError naming
    the file: missing weights or sidecar, a truncated file, a sha256 mismatch, an unreadable tensor file,
    a sidecar config or word list that does not fit the tensors, a NaN or infinite weight."""
    weights, sidecar = _paths(path)
    if not sidecar.is_file():
        raise ValueError(f"checkpoint sidecar {sidecar} is missing (it records the config and sha256)")
    try:
        info = json.loads(sidecar.read_text())
        cfg = GPTConfig(**info["config"])
        words = info["words"]
        if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
            raise TypeError("words must be a list of strings")
        tok = Tokenizer(tuple(words))
        num_bytes, sha = int(info["num_bytes"]), str(info["sha256"])
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
        raise ValueError(f"checkpoint sidecar {sidecar} is damaged: {e}") from None
    if tok.vocab_size != cfg.vocab_size:
        raise ValueError(f"checkpoint sidecar {sidecar} is damaged: {tok.vocab_size} words for vocab_size "
                         f"{cfg.vocab_size}")
    if (cfg.end_id, cfg.pad_id) != (tok.end_id, tok.pad_id):
        raise ValueError(f"checkpoint sidecar {sidecar} is damaged: end_id/pad_id {cfg.end_id}/{cfg.pad_id} "
                         f"are not the tokenizer's {tok.end_id}/{tok.pad_id}")
    if not weights.is_file():
        raise ValueError(f"checkpoint file {weights} is missing")
    size = weights.stat().st_size
    if size < num_bytes:
        raise ValueError(f"checkpoint file {weights} is truncated: {size} bytes, expected {num_bytes}")
    if size != num_bytes:
        raise ValueError(f"checkpoint file {weights} has {size} bytes, expected {num_bytes}")
    got = sha256_of(weights)
    if got != sha:
        raise ValueError(f"checkpoint file {weights} fails its sha256 check: {got} != recorded {sha}")
    try:
        state = st_load(weights.read_bytes())
    except Exception as e:  # safetensors raises its own error types
        raise ValueError(f"checkpoint file {weights} is not a readable safetensors file: {e}") from None
    check_tensors(state, expected_shapes(cfg), weights)
    model = GPT(cfg)
    model.load_state_dict(state)
    model.eval()
    return model, tok, info
