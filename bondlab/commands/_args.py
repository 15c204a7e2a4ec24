"""Command-line values checked when they are parsed, and outputs checked before any work.

Every numeric flag takes a :class:`Number` as its argparse ``type=``. The range it declares (whole or
real, lowest and highest value, open or closed ends; NaN and inf are never numbers here) is the one
source of what the flag accepts: the parser enforces it, and the tests read it. A value outside it
stops the command at once with one line, ``bondlab ...: error: argument --seed: must be ...``.

Every path flag takes a :class:`PathArg` of one kind:

    out_dir   a folder the command writes into; created if missing; must not be a file nor lie under one,
              and its nearest existing folder must be writable
    out_file  a file the command writes (--json); its folder must exist and be writable; not a folder
    in_dir    an existing folder to read (a Hugging Face model)
    in_file   an existing UTF-8 text file to read (--prompts)

Clobbering: before any work, :func:`preflight` checks every file the command will write. An existing file
is replaced only with ``--force`` (hf jbond has no --force: its --out is a run folder it resumes from).
What cannot fit in memory is refused before the work too (:func:`refuse_unless_fits`).
"""
from __future__ import annotations

import argparse
import math
import os
import pathlib

from ..configs import Range

SEED_MAX = 2**32 - 1      # numpy and torch both take any seed in [0, 2^32 - 1]
THREADS_MAX = 1024


class Number(Range):
    """argparse ``type=``: a :class:`bondlab.configs.Range` (the same range a config field declares and its
    ``__post_init__`` applies) that parses the flag's text."""

    def __init__(self, whole: bool, lo=None, hi=None, *, lo_open: bool = False, hi_open: bool = False):
        super().__init__(whole, lo, hi, lo_open=lo_open, hi_open=hi_open)
        self.__name__ = "whole number" if whole else "number"     # argparse's name for the type

    @classmethod
    def of(cls, r: Range) -> "Number":
        return cls(r.whole, r.lo, r.hi, lo_open=r.lo_open, hi_open=r.hi_open)

    def __call__(self, text: str):
        bad = argparse.ArgumentTypeError(f"must be {self.describe()}, got {text!r}")
        try:
            v = int(text) if self.whole and text.strip().lstrip("+-").isdigit() else float(text)
        except (TypeError, ValueError, OverflowError):
            raise bad from None
        if isinstance(v, float) and not math.isfinite(v):
            raise bad
        if not self.contains(v):
            raise bad
        return int(v) if self.whole else float(v)


def count(lo: int = 1, hi=None) -> Number:
    """A whole number >= lo (1e6 is taken as 1000000)."""
    return Number(True, lo, hi)


def real(lo=None, hi=None, **ends) -> Number:
    return Number(False, lo, hi, **ends)


SEED = Number(True, 0, SEED_MAX)
THREADS = Number(True, 1, THREADS_MAX)


class PathArg:
    """argparse ``type=`` for a path of one of the kinds in the module docstring; returns a pathlib.Path."""

    KINDS = ("out_dir", "out_file", "in_dir", "in_file")

    def __init__(self, kind: str):
        if kind not in self.KINDS:
            raise ValueError(f"kind must be one of {self.KINDS}, got {kind!r}")
        self.kind = kind
        self.__name__ = kind.replace("_", " ")

    def __call__(self, text: str) -> pathlib.Path:
        if not text:
            raise argparse.ArgumentTypeError("must not be empty")
        p = pathlib.Path(text)
        fail = getattr(self, "_" + self.kind)(p)
        if fail:
            raise argparse.ArgumentTypeError(f"{text!r} {fail}")
        return p

    @staticmethod
    def _writable_base(p: pathlib.Path):
        """None if the nearest existing folder of p is writable and nothing on the way is a file."""
        q = p.absolute()
        if q.is_file():              # replacing a file needs its folder writable
            q = q.parent
        while not q.exists() and not q.is_symlink():
            q = q.parent
        if not q.is_dir():
            return f"lies under {str(q)!r}, which is not a folder"
        if not os.access(q, os.W_OK | os.X_OK):
            return f"cannot be written: {str(q)!r} is not writable"
        return None

    def _out_dir(self, p):
        if p.exists() and not p.is_dir():
            return "is a file, not a folder"
        return self._writable_base(p)

    def _out_file(self, p):
        if p.is_dir():
            return "is a folder, not a file"
        if p.exists() and not p.is_file():
            return "is not a regular file"
        parent = p.absolute().parent
        if not parent.is_dir():
            return f"cannot be written: its folder {str(parent)!r} does not exist" if not parent.exists() \
                else f"cannot be written: {str(parent)!r} is not a folder"
        return self._writable_base(p)

    def _in_dir(self, p):
        return None if p.is_dir() else ("is a file, not a folder" if p.exists() else "is not an existing folder")

    def _in_file(self, p):
        if not p.is_file():
            return "is a folder, not a file" if p.is_dir() else "is not an existing file"
        try:
            read_lines(p)
        except ValueError as e:
            return str(e)
        return None


def read_lines(path) -> list[str]:
    """Non-empty stripped lines of a UTF-8 text file; ValueError (without the flag) if it is not one."""
    data = pathlib.Path(path).read_bytes()
    if b"\0" in data:
        raise ValueError("is a binary file, not text")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"is not UTF-8 text (byte {e.start})") from None
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise ValueError("holds no line of text")
    return lines


def add_force(parser) -> None:
    parser.add_argument("--force", action="store_true", help="replace output files that exist already")


def preflight(targets: dict, force: bool) -> None:
    """Check, before any work, every file a command will write. ``targets`` maps a flag to the paths written
    because of it. Refuses (ValueError naming the flag) a path that is a folder, a path two flags share, an
    unwritable place, and an existing file unless ``force``."""
    seen = {}
    for flag, paths in targets.items():
        for p in map(pathlib.Path, paths):
            key = p.absolute()
            if key in seen:
                raise ValueError(f"{flag} and {seen[key]} both name {p}; choose another {flag}")
            seen[key] = flag
            if p.is_dir():
                raise ValueError(f"{flag}: {p} is a folder; the command writes a file there")
            if p.exists() and not p.is_file():
                raise ValueError(f"{flag}: {p} is not a regular file; the command would replace it")
            fail = PathArg._writable_base(p)
            if fail:
                raise ValueError(f"{flag}: {p} {fail}")
            if p.exists() and not force:
                raise ValueError(f"{flag}: {p} exists already; pass --force to replace it, or choose another {flag}")


def available_memory() -> int | None:
    """Bytes of memory available now (Linux MemAvailable; else physical memory; None if unknown)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def refuse_unless_fits(need_bytes: float, flags: str, what: str) -> None:
    """ValueError naming ``flags`` when ``need_bytes`` exceeds the memory available now."""
    have = available_memory()
    if have is not None and need_bytes > have:
        raise ValueError(f"{flags}: {what} needs about {need_bytes / 1e9:,.3g} GB of memory, "
                         f"more than the {have / 1e9:.3g} GB available; choose smaller values")
