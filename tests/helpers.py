"""Oracles and readers shared by several test files (imported as ``from helpers import ...``)."""
import itertools
import math
import re

import numpy as np


def enumerate_bon(p, r, n):
    """Law of 'draw n from p, keep the first best', by enumerating all K^n draws (the brute-force oracle)."""
    p = np.asarray(p, dtype=np.float64)
    out = np.zeros(p.size)
    for draw in itertools.product(range(p.size), repeat=n):
        best = max(range(n), key=lambda i: (r[draw[i]], -i))
        out[draw[best]] += math.prod(p[j] for j in draw)
    return out


def readout(panel):
    """A panel's readout table as {id: value}."""
    return {k: float(v) for k, v in re.findall(r'id="(\w+)"[^>]*>([-+0-9.e]+)<', panel.readout.value)}


def line(ax, needle):
    """The y-data of the one line on ``ax`` whose label contains ``needle``."""
    hits = [ln for ln in ax.get_lines() if needle in ln.get_label()]
    assert len(hits) == 1
    return np.asarray(hits[0].get_ydata())
