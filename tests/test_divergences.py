"""KL and Jeffreys against direct sums and finite differences."""
import numpy as np
import pytest

import bondlab as bl
from bondlab import divergences as D


def softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


def test_kl_conventions():
    assert bl.kl([0.5, 0.5, 0.0], [0.25, 0.25, 0.5]) == pytest.approx(np.log(2))
    assert bl.kl([0.5, 0.5], [1.0, 0.0]) == np.inf
    assert bl.kl([1.0, 0.0], [0.5, 0.5]) == pytest.approx(np.log(2))   # 0 log 0 = 0
    p = np.array([0.2, 0.8])
    assert bl.kl(p, p) == 0.0


def test_kl_log_matches_kl_and_handles_tiny_masses(rng):
    p, q = rng.dirichlet(np.ones(10)), rng.dirichlet(np.ones(10))
    assert bl.kl_log(np.log(p), np.log(q)) == pytest.approx(bl.kl(p, q), rel=1e-12)
    # masses far below float64: only the log form can see them
    lp = np.array([0.0, -2000.0])
    lq = np.array([-1e-300, -1e-300 - 5.0])
    assert bl.kl_log(lp, lq) == pytest.approx(1e-300, abs=1e-299)


def test_jeffreys_mixes_the_two_directions(rng):
    p, q = rng.dirichlet(np.ones(6)), rng.dirichlet(np.ones(6))
    for beta in (0.0, 0.3, 1.0):
        want = (1 - beta) * bl.kl(q, p) + beta * bl.kl(p, q)
        assert bl.jeffreys(p, q, beta) == pytest.approx(want)


@pytest.mark.parametrize("beta", [0.0, 0.5, 1.0])
def test_gradients_match_finite_differences(beta, rng):
    z = rng.normal(size=7)
    target = rng.dirichlet(np.ones(7))
    g = D.grad_jeffreys_logits(softmax(z), target, beta)
    eps = 1e-6
    fd = np.array([(bl.jeffreys(softmax(z + eps * e), target, beta) - bl.jeffreys(softmax(z - eps * e), target, beta))
                   / (2 * eps) for e in np.eye(7)])
    assert np.allclose(g, fd, atol=1e-7)


def test_entropy_and_tv():
    assert bl.entropy([0.25] * 4) == pytest.approx(np.log(4))
    assert bl.tv([1.0, 0.0], [0.0, 1.0]) == 1.0


@pytest.mark.parametrize("beta", [-0.1, 1.1, np.nan, "x"])
def test_beta_outside_unit_interval(beta):
    with pytest.raises(ValueError, match="beta"):
        bl.jeffreys([0.5, 0.5], [0.5, 0.5], beta)


def test_bad_distributions():
    with pytest.raises(ValueError, match="p"):
        bl.kl([0.5, 0.6], [0.5, 0.5])
    with pytest.raises(ValueError, match="length"):
        bl.kl([0.5, 0.5], [0.2, 0.3, 0.5])
    with pytest.raises(ValueError, match="log_p"):
        bl.kl_log([0.0, np.nan], [0.0, 0.0])
    with pytest.raises(ValueError, match="target"):
        D.grad_backward_kl_logits([0.5, 0.5], [1.0, 0.0])
