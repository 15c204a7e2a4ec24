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


def bon_mpmath(p, r, n, dps=60):
    """(K,) Best-of-n law as mpmath numbers (level form, Theorem 1), exact for 1 - F down to 1e-300 and
    huge n: pi_ref renormalised exactly, each F taken from the side where it is small, the level mass
    F(r)^n (1 - (F(r-)/F(r))^n) with the ratio taken directly when <= 1/2, else as 1 - m/F(r)."""
    import mpmath as mp
    with mp.workdps(dps):
        pm = [mp.mpf(float(x)) for x in p]
        z = mp.fsum(pm)
        pm = [x / z for x in pm]
        n = mp.mpf(float(n))
        out = []
        for x, rr in zip(pm, r):
            if x == 0:
                out.append(mp.mpf(0))
                continue
            m = mp.fsum(q for q, s in zip(pm, r) if s == rr)
            below = mp.fsum(q for q, s in zip(pm, r) if s < rr)
            f_le = mp.fsum(q for q, s in zip(pm, r) if s <= rr)
            log_hi = mp.log(f_le) if f_le <= 0.5 else mp.log1p(-mp.fsum(q for q, s in zip(pm, r) if s > rr))
            ratio = below / mp.exp(log_hi)
            tail = -mp.expm1(n * (mp.log(ratio) if ratio <= 0.5 else mp.log1p(-m / mp.exp(log_hi)))) if below > 0 else 1
            out.append(x / m * mp.exp(n * log_hi) * tail)
        return out
