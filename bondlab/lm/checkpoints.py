"""Checkpoints: safetensors weights (never pickle) with a JSON beside them holding the config, the
tokenizer's words, the file's size and its sha256. Loading checks all three and names the file at fault,
then checks the sidecar against the tensors before a model is built: every tensor's shape is the one the
config implies, the word list has ``vocab_size`` words, and every weight is finite.

    <stem>.safetensors   the weights
    <stem>.json          {"format": "bondlab-gpt/1", "config": {...}, "words": [...], "file": "<stem>.safetensors",
                          "num_bytes": ..., "sha256": "...", "meta": {...}}
"""
from __future__ import annotations

from pathlib import Path

import torch

from ..checkpoint import check_tensors, read_verified, write_verified
from .corpus import Tokenizer
from .model import GPT, GPTConfig

__all__ = ["save_checkpoint", "load_checkpoint", "expected_shapes"]

FORMAT = "bondlab-gpt/1"


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
    state = {k: v.detach().to(torch.float32).contiguous().clone() for k, v in model.state_dict().items()}
    info = {"format": FORMAT, "config": model.cfg.to_dict(), "words": list(tokenizer.words), "meta": meta or {}}
    return write_verified(weights, sidecar, state, info)     # atomic, strict JSON, size and sha256 recorded


def expected_shapes(cfg: GPTConfig) -> dict[str, tuple]:
    """{name: shape} of the state dict a GPT with ``cfg`` has, computed on the meta device (no memory)."""
    with torch.device("meta"):
        return {k: tuple(v.shape) for k, v in GPT(cfg).state_dict().items()}


def load_checkpoint(path) -> tuple[GPT, Tokenizer, dict]:
    """Load ``(model, tokenizer, info)``, checking size and sha256. Every failure is a ValueError naming
    the file: missing weights or sidecar, a truncated file, a sha256 mismatch, an unreadable tensor file,
    a sidecar config or word list that does not fit the tensors, a NaN or infinite weight."""
    weights, sidecar = _paths(path)
    parsed = {}

    def parse(info: dict) -> None:
        cfg = GPTConfig(**info["config"])
        words = info["words"]
        if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
            raise TypeError("words must be a list of strings")
        tok = Tokenizer(tuple(words))
        if tok.vocab_size != cfg.vocab_size:
            raise ValueError(f"{tok.vocab_size} words for vocab_size {cfg.vocab_size}")
        if (cfg.end_id, cfg.pad_id) != (tok.end_id, tok.pad_id):
            raise ValueError(f"end_id/pad_id {cfg.end_id}/{cfg.pad_id} are not the tokenizer's "
                             f"{tok.end_id}/{tok.pad_id}")
        parsed.update(cfg=cfg, tok=tok)

    state, info = read_verified(weights, sidecar, parse)
    cfg, tok = parsed["cfg"], parsed["tok"]
    check_tensors(state, expected_shapes(cfg), weights)
    model = GPT(cfg)
    model.load_state_dict(state)
    model.eval()
    return model, tok, info
