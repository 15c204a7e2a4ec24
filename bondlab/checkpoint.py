"""Verified checkpoints: safetensors (never pickle) with a JSON sidecar recording the file's size and sha256.

:func:`write_verified` / :func:`read_verified` are the one writer and reader: the model checkpoints of the
tiny GPT (:mod:`bondlab.lm.checkpoints`) and the training states below both go through them.

A training state (J-BOND at every scale: :mod:`bondlab.hf.train`, :mod:`bondlab.lm.jbond`) is the run
itself, so that a run resumes or keeps going exactly where it stopped:

    <out>/checkpoint.safetensors   policy/<name>, anchor/<name>, opt/<state>/<name> (Adam), rng/train
    <out>/checkpoint.json          {"format": "bondlab-train/1", "step", "history", "stop_reason",
                                    "config", "run", "param_groups", "names", "num_bytes", "sha256", ...}

Reading checks, in order, and names the file at fault with a ValueError: the sidecar parses; the weights
file exists, has the recorded size and sha256 and is safetensors; then, against the model it is restored
into and before anything is copied, every tensor's name and shape (the parameter's shape for the policy,
the anchor and Adam's moments, a scalar for Adam's step, the generator's state size) and that every
floating tensor is finite (a NaN weight with a matching checksum is refused, naming the tensor).

A resume must continue the same run: :func:`check_resume` compares the saved config with the new one and
refuses any difference, except in the fields of :data:`RESUMABLE` (how long to run and when to stop),
naming the fields that differ. The prompt pool and the weights' dtype count as config too.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import torch

from .outputs import dumps

__all__ = ["CHECKPOINT", "FORMAT", "RESUMABLE", "sha256_of", "check_tensors", "write_verified", "read_verified",
           "paths", "save_state", "load_state", "restore", "check_resume", "run_identity", "fingerprint"]

CHECKPOINT = "checkpoint"
FORMAT = "bondlab-train/1"
FORMATS = (FORMAT, "bondlab-hf-jbond/1")   # what a training state may say (the second: written before 2026-12)
# config fields a resumed run may change: they say how long to run, when to stop and how often to save,
# never what a step computes. Every other field must match the checkpoint's.
RESUMABLE = ("max_steps", "keep_going", "target_n", "kl_budget", "checkpoint_every")
ADAM_STATE = ("step", "exp_avg", "exp_avg_sq")   # torch.optim.Adam's per-parameter state (amsgrad off)


def sha256_of(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


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


def write_verified(weights: Path, sidecar: Path, tensors: dict, info: dict) -> Path:
    """Write ``tensors`` to ``weights`` and ``info`` plus the file's name, size and sha256 to ``sidecar``,
    each atomically (a temporary file, then a rename; the sidecar last)."""
    from safetensors.torch import save_file
    weights.parent.mkdir(parents=True, exist_ok=True)
    tmp = weights.with_suffix(".safetensors.tmp")
    save_file(tensors, str(tmp))
    os.replace(tmp, weights)
    info = {**info, "file": weights.name, "num_bytes": weights.stat().st_size, "sha256": sha256_of(weights)}
    tmp = sidecar.with_suffix(".json.tmp")
    tmp.write_text(dumps(info) + "\n")            # strict JSON: a non-finite number is written as null
    os.replace(tmp, sidecar)
    return weights


def read_verified(weights: Path, sidecar: Path, parse=None) -> tuple[dict, dict]:
    """``(tensors, info)``, checked in order, each failure a ValueError naming the file at fault: the sidecar
    exists and parses (``parse(info)`` raises KeyError/TypeError/ValueError for what else it must hold); the
    weights file exists, has the recorded size and sha256, and is safetensors."""
    from safetensors.torch import load as st_load
    if not sidecar.is_file():
        raise ValueError(f"checkpoint sidecar {sidecar} is missing (it records the file's size and sha256)")
    try:
        info = json.loads(sidecar.read_text())
        num_bytes, sha = int(info["num_bytes"]), str(info["sha256"])
        if parse is not None:
            parse(info)
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
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
        return st_load(weights.read_bytes()), info
    except Exception as e:  # safetensors raises its own error types
        raise ValueError(f"checkpoint file {weights} is not a readable safetensors file: {e}") from None


def paths(out) -> tuple[Path, Path]:
    return Path(out) / f"{CHECKPOINT}.safetensors", Path(out) / f"{CHECKPOINT}.json"


def save_state(out, model, anchor, opt, gen: torch.Generator, info: dict) -> Path:
    """Write the training state (policy, anchor, Adam state, generator) and ``info`` into ``out``."""
    weights, sidecar = paths(out)
    names = [n for n, _ in model.named_parameters()]
    state = {f"policy/{n}": p.detach().cpu().contiguous() for n, p in model.named_parameters()}
    state.update({f"anchor/{n}": p.detach().cpu().contiguous() for n, p in anchor.named_parameters()})
    osd = opt.state_dict()
    for i, n in enumerate(names):
        for k, v in osd["state"].get(i, {}).items():
            state[f"opt/{k}/{n}"] = torch.as_tensor(v).detach().cpu().contiguous()
    state["rng/train"] = gen.get_state()
    return write_verified(weights, sidecar, state, {"format": FORMAT, **info, "param_groups": osd["param_groups"],
                                                    "names": names})


def _parse_state(info: dict) -> None:
    if info.get("format") not in FORMATS:
        raise KeyError(f"format {info.get('format')!r} is not {FORMAT!r}")
    step = info["step"]
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise TypeError(f"step must be an integer >= 0, got {step!r}")
    if not isinstance(info["history"], list) or not isinstance(info["config"], dict):
        raise TypeError("history must be a list and config a dict")
    if not isinstance(info["names"], list) or not isinstance(info["param_groups"], list):
        raise TypeError("names and param_groups must be lists")
    str(info["stop_reason"])


def load_state(out) -> tuple[dict, dict]:
    """(tensors, info) of the training state in ``out``, verified by :func:`read_verified`."""
    return read_verified(*paths(out), parse=_parse_state)


def _expected_shapes(tensors: dict, model) -> dict:
    """{key: shape} of every floating tensor a checkpoint of ``model`` holds. Adam's state of a parameter
    is expected whenever any of it is present (a parameter that never had a gradient has none)."""
    shapes = {}
    for n, p in model.named_parameters():
        shapes[f"policy/{n}"] = shapes[f"anchor/{n}"] = tuple(p.shape)
        if any(f"opt/{k}/{n}" in tensors for k in ADAM_STATE):
            shapes.update({f"opt/{k}/{n}": () if k == "step" else tuple(p.shape) for k in ADAM_STATE})
    return shapes


def restore(tensors: dict, info: dict, model, anchor, opt, gen: torch.Generator, where) -> None:
    """Check every tensor against ``model`` (names, shapes, finite values; ValueError naming ``where``, the
    weights file, and the tensor), then copy policy, anchor, Adam state and generator state in place."""
    names = [n for n, _ in model.named_parameters()]
    if info["names"] != names:
        raise ValueError(f"checkpoint file {where}: its parameters do not match the model "
                         "(was it written for another --model?)")
    rng = tensors.get("rng/train")
    want = gen.get_state()
    if rng is None or rng.dtype != want.dtype or rng.shape != want.shape:
        raise ValueError(f"checkpoint file {where}: tensor rng/train is missing or is not a generator state "
                         f"({None if rng is None else (rng.dtype, tuple(rng.shape))})")
    check_tensors({k: v for k, v in tensors.items() if k != "rng/train"}, _expected_shapes(tensors, model), where)
    state = {}
    for i, n in enumerate(names):
        s = {k: tensors[f"opt/{k}/{n}"] for k in ADAM_STATE if f"opt/{k}/{n}" in tensors}
        if s:
            state[i] = s
    try:
        opt.load_state_dict({"state": state, "param_groups": info["param_groups"]})
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(f"checkpoint file {where}: its optimizer state does not fit: {e}") from None
    with torch.no_grad():
        for (n, p), (_, pa) in zip(model.named_parameters(), anchor.named_parameters()):
            p.copy_(tensors[f"policy/{n}"])
            pa.copy_(tensors[f"anchor/{n}"])
    gen.set_state(rng)


def run_identity(prompt_pool, model) -> dict:
    """What, besides the config, fixes a run's result: the prompt pool (its sha256) and the weights' dtype."""
    h = hashlib.sha256(json.dumps(list(prompt_pool)).encode())
    return {"prompt_pool_sha256": h.hexdigest(), "dtype": str(next(model.parameters()).dtype).replace("torch.", "")}


def check_resume(info: dict, config: dict, run: dict, where) -> None:
    """ValueError naming every field in which ``config`` (the new config as a dict) or ``run``
    (:func:`run_identity`) differs from the checkpoint's, :data:`RESUMABLE` fields aside."""
    saved_run = info.get("run") if isinstance(info.get("run"), dict) else {}
    saved = {**info["config"], **saved_run}
    new = {**config, **{k: v for k, v in run.items() if k in saved_run}}   # older checkpoints record no run
    diff = [f"{k} (checkpoint {saved.get(k, 'absent')!r}, now {new.get(k, 'absent')!r})"
            for k in sorted(set(saved) | set(new)) if k not in RESUMABLE and saved.get(k) != new.get(k)]
    if diff:
        raise ValueError(f"checkpoint {where} was written by a run with other settings: {'; '.join(diff)}. "
                         f"Resume with the same settings (only {', '.join(RESUMABLE)} may change), write to "
                         "another folder, or start afresh (resume=False, --no-resume)")


def fingerprint(*models) -> torch.Tensor:
    """(2 * len(models),) float64: plain and position-weighted sums of all parameters (equal models, equal
    numbers; a one-ulp difference anywhere changes them)."""
    out = []
    for m in models:
        flat = torch.cat([p.detach().double().flatten().cpu() for p in m.parameters()])
        out += [flat.sum(), (flat * torch.linspace(1, 2, flat.numel(), dtype=torch.float64)).sum()]
    return torch.stack(out)
