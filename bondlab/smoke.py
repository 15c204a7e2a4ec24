"""Smoke mode: ``BONDLAB_SMOKE=1`` (or ``CI`` set) shrinks notebooks and commands to a quick check."""
from __future__ import annotations

import os


def smoke_mode() -> bool:
    """True when BONDLAB_SMOKE is set to a true value, or when CI is set (and BONDLAB_SMOKE is not '0')."""
    flag = os.environ.get("BONDLAB_SMOKE", "").strip().lower()
    if flag in ("0", "false", "no"):
        return False
    return flag in ("1", "true", "yes") or bool(os.environ.get("CI"))


def pick(full, smoke):
    """``smoke`` in smoke mode, else ``full``: ``n_samples = pick(200_000, 5_000)``."""
    return smoke if smoke_mode() else full
