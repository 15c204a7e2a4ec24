import os

import matplotlib
import numpy as np
import pytest

os.environ.setdefault("BONDLAB_SMOKE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
matplotlib.use("Agg")


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
