"""Gradients of the torch twin: finite everywhere and equal to an mpmath oracle (Theorem 1, level form).

The oracle is written from the definition, independently of bondlab: p = softmax(theta) in 80-digit
arithmetic, F(r) and F(r-) as plain sums, log pi_BoN(y) = log p(y) - log m(level) + log(F(r)^n - F(r-)^n),
and its gradient by central differences at h = 1e-30 (truncation ~h^2, rounding ~1e-80/h: both far below
float64). Spaces have ties, a heavy lowest level, -inf entries (alone in their level or not), real n.
"""
import math

import mpmath as mp
import numpy as np
import torch
from hypothesis import example, given, settings, strategies as st

import bondlab as bl

EPS64 = float(np.finfo(np.float64).eps)
EPS32 = float(np.finfo(np.float32).eps)
NEG_INF = float("-inf")


def oracle_loss(theta, rewards, weights, n):
    """sum_y w(y) log pi_BoN(y) over the live outcomes, in mpmath (theta: list of mpf, -inf allowed)."""
    live = [i for i, t in enumerate(theta) if t != NEG_INF]
    z = mp.fsum(mp.exp(theta[i]) for i in live)
    p = {i: mp.exp(theta[i]) / z for i in live}
    total = mp.mpf(0)
    for y in live:
        m = mp.fsum(p[j] for j in live if rewards[j] == rewards[y])
        f_hi = mp.fsum(p[j] for j in live if rewards[j] <= rewards[y])
        f_lo = mp.fsum(p[j] for j in live if rewards[j] < rewards[y])
        total += weights[y] * (mp.log(p[y]) - mp.log(m) + mp.log(f_hi ** n - f_lo ** n))
    return total


def oracle_grad(theta, rewards, weights, n):
    with mp.workdps(80):
        th = [mp.mpf(t) for t in theta]
        h = mp.mpf(10) ** -30
        g = []
        for i, t in enumerate(th):
            if t == NEG_INF:
                g.append(0.0)
                continue
            up, dn = list(th), list(th)
            up[i], dn[i] = t + h, t - h
            n_mp = mp.mpf(n)
            g.append(float((oracle_loss(up, rewards, weights, n_mp) - oracle_loss(dn, rewards, weights, n_mp)) / (2 * h)))
        return np.array(g)


def twin_grad(theta, rewards, weights, n, dtype):
    th = torch.tensor(theta, dtype=dtype, requires_grad=True)
    out = bl.bon_log_probs_torch(torch.log_softmax(th, -1), torch.tensor(rewards, dtype=dtype), n)   # (K,)
    live = torch.isfinite(th)
    assert torch.equal(torch.isfinite(out), live)
    (out[live] * torch.tensor(weights, dtype=dtype)[live]).sum().backward()
    return th.grad.double().numpy()


@st.composite
def spaces(draw):
    k = draw(st.integers(2, 7))
    rewards = [float(v) for v in draw(st.lists(st.integers(0, 3), min_size=k, max_size=k))]
    theta = draw(st.lists(st.floats(-6, 6), min_size=k, max_size=k))
    low = min(range(k), key=lambda i: rewards[i])
    if draw(st.booleans()):                  # a heavy lowest level: most of the mass at the worst reward
        theta[low] = draw(st.floats(4, 30))
    for i in draw(st.sets(st.integers(0, k - 1), max_size=k - 1)):
        if i != low or not draw(st.booleans()):
            theta[i] = NEG_INF               # a zero of pi_ref, alone in its level or among others
    if all(t == NEG_INF for t in theta):
        theta[0] = 0.0
    if draw(st.booleans()):                  # put a -inf entry alone in a level of its own
        rewards.append(-1.0 if draw(st.booleans()) else 9.0)
        theta.append(NEG_INF)
    weights = [w / 4 for w in draw(st.lists(st.integers(-4, 4), min_size=len(theta), max_size=len(theta)))]
    n = draw(st.one_of(st.integers(1, 8).map(float), st.floats(1, 1e6)))
    return theta, rewards, weights, n


REPRO = ([-0.647, -0.761, -1.229, -1.816, 4.068, -0.144], [1.0, 1, 3, 1, 0, 3], [1.0] * 6, 4.0)


@settings(max_examples=60, deadline=None)
@given(case=spaces())
@example(case=REPRO)   # issue 11: a heavy lowest level made every gradient NaN
@example(case=([0.0, NEG_INF, 1.0], [1.0, 0.0, 2.0], [1.0, 1.0, 1.0], 3.0))   # -inf alone in the lowest level
@example(case=([0.0, NEG_INF, 1.0], [1.0, 5.0, 0.0], [1.0, -1.0, 0.5], 2.5))  # -inf alone in the top level
def test_gradient_is_finite_and_matches_mpmath(case):
    theta, rewards, weights, n = case
    want = oracle_grad(theta, rewards, weights, n)
    got = twin_grad(theta, rewards, weights, n, torch.float64)
    assert np.isfinite(got).all()
    # float64: each level's log mass passes through O(K) sums and O(1) log/exp steps; the n-fold power
    # (n log F) amplifies their rounding n-fold, so the error is at most ~ (n + 1) K eps of the scale
    scale = np.abs(want).max() + np.abs(weights).sum()
    assert np.abs(got - want).max() <= 16 * (n + 1) * len(theta) * EPS64 * scale
    got32 = twin_grad(theta, rewards, weights, n, torch.float32)
    assert np.isfinite(got32).all()
    assert np.abs(got32 - want).max() <= 16 * (n + 1) * len(theta) * EPS32 * scale   # the same bound, float32


def test_issue_reproduction_float32_random_heavy_lowest_levels():
    """The issue's trial: random spaces whose lowest level holds most of the mass; ~13% gave NaN before."""
    gen = torch.Generator().manual_seed(11)
    for dtype in (torch.float32, torch.float64):
        theta = torch.randn(400, 6, generator=gen, dtype=dtype)
        rewards = torch.randint(0, 4, (400, 6), generator=gen).to(dtype)
        low = rewards.argmin(-1)
        theta[torch.arange(400), low] += 5.0                          # the worst outcome is heavy
        theta.requires_grad_(True)
        bl.bon_log_probs_torch(torch.log_softmax(theta, -1), rewards, 4.0).sum().backward()
        assert torch.isfinite(theta.grad).all()
