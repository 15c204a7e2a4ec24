import os

import matplotlib
import numpy as np
import pytest
import torch

os.environ.setdefault("BONDLAB_SMOKE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
matplotlib.use("Agg")
# The models here are tiny: one torch thread is as fast as two, and far steadier on a busy 2-core machine.
# BONDLAB_TORCH_THREADS picks another count (`make test-threads2` runs the suite with 2): a float
# comparison whose tolerance follows from the arithmetic passes whatever order the threads sum in.
_threads = os.environ.get("BONDLAB_TORCH_THREADS", "1")
THREADS = int(_threads) if _threads.isdigit() and int(_threads) >= 1 else None


def pytest_configure(config):
    if THREADS is None:
        raise pytest.UsageError(f"BONDLAB_TORCH_THREADS must be a positive integer, got {_threads!r}")
    torch.set_num_threads(THREADS)


def pytest_report_header(config):
    return f"bondlab: torch threads = {torch.get_num_threads()} (BONDLAB_TORCH_THREADS)"


@pytest.fixture(autouse=True)
def torch_threads():
    """Every test starts with the chosen thread count: an in-process `bondlab demo` or `bondlab lm` sets its own
    (--threads, default 1), which would otherwise hold for every test after it."""
    torch.set_num_threads(THREADS)
    yield
    torch.set_num_threads(THREADS)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
