"""Bradley-Terry proxy rewards: features, comparisons, the maximum-likelihood fit, determinism, bad input."""
import numpy as np
import pytest
from scipy import optimize
from scipy.special import expit

from bondlab.proxy import (ProxyConfig, feature_map, fit_bradley_terry, fit_proxy, pairwise_accuracy,
                           sample_comparisons)
from bondlab.spaces import grid_mixture


@pytest.fixture
def space():
    return grid_mixture(101, reward="bump")


def test_poly_features_are_legendre_without_constant():
    x = np.linspace(-1, 1, 7)
    phi = feature_map(x, "poly", 3)
    assert phi.shape == (7, 3)
    np.testing.assert_allclose(phi[:, 0], x)
    np.testing.assert_allclose(phi[:, 1], (3 * x**2 - 1) / 2)
    np.testing.assert_allclose(phi[:, 2], (5 * x**3 - 3 * x) / 2)


def test_rbf_and_onehot_features():
    x = np.linspace(-1, 1, 11)
    phi = feature_map(x, "rbf", 3)
    assert phi.shape == (11, 3)
    np.testing.assert_allclose(phi[[0, 5, 10], [0, 1, 2]], 1.0)      # each bump peaks at its centre
    np.testing.assert_array_equal(feature_map(x, "onehot", 1), np.eye(11))


def test_clean_labels_follow_gold_and_flips_match_noise(space, rng):
    pairs, labels, flipped = sample_comparisons(space.ref_probs, space.rewards, 20_000, 0.0, rng)
    ra, rb = space.rewards[pairs[:, 0]], space.rewards[pairs[:, 1]]
    strict = ra != rb
    np.testing.assert_array_equal(labels[strict], (ra > rb)[strict].astype(float))
    assert not flipped.any()
    pairs, labels, flipped = sample_comparisons(space.ref_probs, space.rewards, 20_000, 0.3, rng)
    assert abs(flipped.mean() - 0.3) < 5 * np.sqrt(0.3 * 0.7 / 20_000)
    ra, rb = space.rewards[pairs[:, 0]], space.rewards[pairs[:, 1]]
    strict = ra != rb
    wrong = labels[strict] != (ra > rb)[strict]
    np.testing.assert_array_equal(wrong, flipped[strict])
    # pairs come from pi_ref: outcome frequencies match it
    freq = np.bincount(pairs.ravel(), minlength=space.ref_probs.size) / pairs.size
    assert 0.5 * np.abs(freq - space.ref_probs).sum() < 0.03


def test_fit_matches_direct_minimisation_of_the_likelihood(rng):
    phi = rng.normal(size=(30, 2))
    pairs = rng.integers(0, 30, size=(200, 2))
    labels = (rng.random(200) < 0.6).astype(float)
    w, nll = fit_bradley_terry(phi, pairs, labels, l2=0.01)
    diff = phi[pairs[:, 0]] - phi[pairs[:, 1]]
    s = 2 * labels - 1

    def loss(v):  # written out independently: -mean log P(label) under Bradley-Terry, plus the penalty
        p_a = 1.0 / (1.0 + np.exp(-(diff @ v)))
        return -np.mean(np.where(s > 0, np.log(p_a), np.log1p(-p_a))) + 0.005 * (v @ v)

    ref = optimize.minimize(loss, np.ones(2), method="Nelder-Mead", options=dict(xatol=1e-10, fatol=1e-14, maxiter=20_000))
    np.testing.assert_allclose(w, ref.x, atol=1e-5)
    assert nll == pytest.approx(loss(w) - 0.005 * (w @ w), rel=1e-9)


def test_fit_recovers_bradley_terry_weights_from_model_labels(rng):
    """Labels drawn from the Bradley-Terry model itself: the MLE tends to the true weights."""
    phi = feature_map(np.linspace(-1, 1, 51), "poly", 2)
    w_true = np.array([2.0, -1.0])
    pairs = rng.integers(0, 51, size=(40_000, 2))
    p_a = expit((phi[pairs[:, 0]] - phi[pairs[:, 1]]) @ w_true)
    labels = (rng.random(40_000) < p_a).astype(float)
    w, _ = fit_bradley_terry(phi, pairs, labels, l2=0.0)
    np.testing.assert_allclose(w, w_true, atol=0.08)


def test_onehot_fit_uses_lbfgs_and_reaches_a_stationary_point(space, rng):
    pr = fit_proxy(space.x, space.ref_probs, space.rewards, ProxyConfig(m=500, features="onehot"), rng=rng)
    phi = np.eye(space.x.size)
    diff = phi[pr.pairs[:, 0]] - phi[pr.pairs[:, 1]]
    s = 2 * pr.labels - 1
    grad = -(diff.T @ (s * expit(-s * (diff @ pr.weights)))) / 500 + 1e-3 * pr.weights
    assert np.abs(grad).max() < 1e-6


def test_fit_proxy_is_deterministic_and_centred(space):
    cfg = ProxyConfig(m=80, noise=0.2, capacity=3)
    a = fit_proxy(space.x, space.ref_probs, space.rewards, cfg, rng=np.random.default_rng(7))
    b = fit_proxy(space.x, space.ref_probs, space.rewards, cfg, rng=np.random.default_rng(7))
    c = fit_proxy(space.x, space.ref_probs, space.rewards, cfg, rng=np.random.default_rng(8))
    np.testing.assert_array_equal(a.rewards, b.rewards)
    assert not np.array_equal(a.rewards, c.rewards)
    assert abs(space.ref_probs @ a.rewards) < 1e-12
    assert a.pairs.shape == (80, 2) and a.summary()["n_flipped"] == int(a.flipped.sum())


def test_clean_proxy_is_right_on_pi_ref_and_wrong_in_the_tail(space, rng):
    """A low-capacity proxy learns 'more x is better' from pi_ref's samples; past the gold peak it is wrong."""
    pr = fit_proxy(space.x, space.ref_probs, space.rewards, ProxyConfig(m=2000, noise=0.0, capacity=1), rng=rng)
    assert pr.weights[0] > 0
    assert pairwise_accuracy(space.ref_probs, space.rewards, pr.rewards) > 0.9
    assert np.argmax(pr.rewards) == space.x.size - 1 and np.argmax(space.rewards) != space.x.size - 1


def test_pairwise_accuracy_matches_monte_carlo(space, rng):
    proxy = space.x ** 3 - 0.3 * space.x
    exact = pairwise_accuracy(space.ref_probs, space.rewards, proxy)
    a = rng.choice(space.x.size, size=(200_000, 2), p=space.ref_probs)
    dg = space.rewards[a[:, 0]] - space.rewards[a[:, 1]]
    dp = proxy[a[:, 0]] - proxy[a[:, 1]]
    keep = dg != 0
    mc = np.mean(np.sign(dg[keep]) == np.sign(dp[keep]))
    assert abs(mc - exact) < 5 * np.sqrt(exact * (1 - exact) / keep.sum())
    assert pairwise_accuracy(space.ref_probs, space.rewards, space.rewards) == 1.0
    assert pairwise_accuracy(space.ref_probs, space.rewards, -space.rewards) == 0.0


@pytest.mark.parametrize("kw, word", [(dict(m=0), "m"), (dict(noise=1.5), "noise"), (dict(noise=float("nan")), "noise"),
                                      (dict(features="mlp"), "features"), (dict(capacity=0), "capacity"),
                                      (dict(l2=-1.0), "l2")])
def test_bad_config(kw, word):
    with pytest.raises(ValueError, match=word):
        ProxyConfig(**kw)


def test_bad_inputs(space, rng):
    with pytest.raises(ValueError, match="kind"):
        feature_map(space.x, "wavelet", 2)
    with pytest.raises(ValueError, match="x"):
        feature_map(np.array([0.0, np.nan]), "poly", 2)
    with pytest.raises(ValueError, match="gold"):
        sample_comparisons(space.ref_probs, space.rewards[:-1], 10, 0.1, rng)
    with pytest.raises(ValueError, match="rng"):
        fit_proxy(space.x, space.ref_probs, space.rewards, ProxyConfig(), rng=0)
    with pytest.raises(ValueError, match="config"):
        fit_proxy(space.x, space.ref_probs, space.rewards, dict(m=3), rng=rng)
    with pytest.raises(ValueError, match="x has shape"):
        fit_proxy(space.x[:-1], space.ref_probs, space.rewards, ProxyConfig(), rng=rng)
    with pytest.raises(ValueError, match="labels"):
        fit_bradley_terry(np.eye(3), np.array([[0, 1]]), np.array([0.5]))
    with pytest.raises(ValueError, match="pairs"):
        fit_bradley_terry(np.eye(3), np.array([[0, 5]]), np.array([1.0]))
    with pytest.raises(ValueError, match="gold is constant"):
        pairwise_accuracy(space.ref_probs, np.zeros(space.x.size), space.x)
