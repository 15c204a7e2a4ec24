"""Checkpoints: safetensors weights (never pickle) with a JSON beside them holding the config, the
tokenizer's words, the file's size and its sha256. Loading checks all three and names the file at fault.

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

__all__ = ["save_checkpoint", "load_checkpoint", "sha256_of"]

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


def load_checkpoint(path) -> tuple[GPT, Tokenizer, dict]:
    """Load ``(model, tokenizer, info)``, checking size and sha256. Every failure is a ValueError naming
    the file: missing weights or sidecar, a truncated file, a sha256 mismatch, an unreadable tensor file."""
    weights, sidecar = _paths(path)
    if not sidecar.is_file():
        raise ValueError(f"checkpoint sidecar {sidecar} is missing (it records the config and sha256)")
    try:
        info = json.loads(sidecar.read_text())
        cfg = GPTConfig(**info["config"])
        words = tuple(info["words"])
        num_bytes, sha = int(info["num_bytes"]), str(info["sha256"])
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise ValueError(f"checkpoint sidecar {sidecar} is damaged: {e}") from None
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
    model = GPT(cfg)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ValueError(f"checkpoint file {weights} does not match its config: missing {missing}, unexpected {unexpected}")
    model.eval()
    return model, Tokenizer(words), info
