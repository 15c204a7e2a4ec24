import os

import matplotlib
import numpy as np
import pytest
import torch

os.environ.setdefault("BONDLAB_SMOKE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
matplotlib.use("Agg")
# The models here are tiny: one torch thread is as fast as two, and far steadier on a busy 2-core machine.
torch.set_num_threads(1)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
