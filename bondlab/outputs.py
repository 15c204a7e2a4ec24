"""Writing results: strict JSON and atomic files, shared by every command and library writer.

* JSON: :func:`dumps` / :func:`write_json` write only what a strict reader accepts. A non-finite float
  (NaN, +-inf: a diverged run, an underflowed KL) becomes ``null``, never the bare ``NaN`` / ``Infinity``
  that Python's json module writes by default; numpy scalars and arrays become plain numbers and lists.
  ``json.dumps`` then runs with ``allow_nan=False``, so nothing non-finite can slip through.
* Files: :func:`atomic_path` hands out a temporary name in the target's own folder and moves it over the
  target with ``os.replace`` only when writing succeeded, so a failure never leaves a half-written file
  (and never damages an older one). :func:`save_figure` and :func:`write_text` use it.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import pathlib
import tempfile

import numpy as np

__all__ = ["finite_json", "dumps", "loads_strict", "write_json", "write_text", "atomic_path", "save_figure"]


def finite_json(obj):
    """A copy of ``obj`` made of dict / list / str / int / float / bool / None only, non-finite floats as None."""
    if isinstance(obj, dict):
        return {str(k) if not isinstance(k, str) else k: finite_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite_json(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return finite_json(obj.tolist())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        v = float(obj)
        return v if math.isfinite(v) else None
    if obj is None or isinstance(obj, str):
        return obj
    if hasattr(obj, "item") and callable(obj.item):      # a 0-d torch tensor or similar
        return finite_json(obj.item())
    raise TypeError(f"cannot write a {type(obj).__name__} as JSON")


def dumps(obj, indent: int | None = 1) -> str:
    """Strict JSON text of ``obj`` (non-finite floats written as null)."""
    return json.dumps(finite_json(obj), indent=indent, allow_nan=False)


def _refuse_constant(name):
    raise ValueError(f"not strict JSON: {name}")


def loads_strict(text: str):
    """``json.loads`` that refuses NaN, Infinity and -Infinity (what a strict reader does)."""
    return json.loads(text, parse_constant=_refuse_constant)


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; on success it replaces ``path``, on failure it is removed."""
    path = pathlib.Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    os.close(fd)
    try:
        yield pathlib.Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_text(path, text: str) -> pathlib.Path:
    """Write ``text`` to ``path`` atomically; returns the path."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return pathlib.Path(path)


def write_json(path, obj, indent: int | None = 1) -> pathlib.Path:
    """Write ``obj`` as strict JSON (see :func:`dumps`) to ``path`` atomically; returns the path."""
    return write_text(path, dumps(obj, indent) + "\n")


def save_figure(fig, path, **kw) -> pathlib.Path:
    """``fig.savefig`` to ``path`` atomically; the format comes from the target's suffix."""
    path = pathlib.Path(path)
    kw.setdefault("format", path.suffix.lstrip(".") or "png")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, **kw)
    return path
