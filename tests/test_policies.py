"""Policy families: normalisation, sampling frequencies, anchors and the EMA update."""
import numpy as np
import pytest
import torch

import bondlab as B
from bondlab.anchor import hard_reset_
from bondlab.policies import GaussianPolicy, TabularPolicy, make_policy



def test_tabular_starts_at_its_probs_and_samples_them(rng):
    p = rng.dirichlet(np.ones(7))
    pol = TabularPolicy(p)
    np.testing.assert_allclose(pol.probs_np(), p, atol=1e-14)
    y = pol.sample(200_000, torch.Generator().manual_seed(0)).numpy()
    freq = np.bincount(y, minlength=7) / y.size
    assert np.all(np.abs(freq - p) <= 5 * np.sqrt(p * (1 - p) / y.size))       # Monte Carlo oracle
    np.testing.assert_allclose(pol.log_prob(torch.tensor([2, 5])).detach().numpy(), np.log(p[[2, 5]]), atol=1e-12)


def test_gaussian_is_a_normalised_discretised_gaussian_matching_moments():
    s = B.grid_mixture(k=81, weights=(1.0,), means=(0.1,), scales=(0.2,))
    pol = GaussianPolicy(s.x, s.ref_probs)
    p = pol.probs_np()
    assert p.sum() == pytest.approx(1.0, abs=1e-12)
    dens = np.exp(-0.5 * ((s.x - pol.mu.item()) / np.exp(pol.log_sigma.item())) ** 2)
    np.testing.assert_allclose(p, dens / dens.sum(), atol=1e-14)               # the formula, recomputed
    assert B.tv(p, s.ref_probs) < 0.01                                          # a Gaussian fits a Gaussian
    # unimodal: it cannot represent two separated modes
    bimodal = B.grid_mixture(k=81, weights=(0.5, 0.5), means=(-0.6, 0.6), scales=(0.1, 0.1))
    q = GaussianPolicy(bimodal.x, bimodal.ref_probs).probs_np()
    assert np.sum(np.diff(np.sign(np.diff(q))) < 0) == 1


def test_anchor_copy_is_frozen_and_ema_moves_parameters(rng):
    pol = TabularPolicy(rng.dirichlet(np.ones(5)))
    anchor = pol.anchor()
    assert not any(p.requires_grad for p in anchor.parameters())
    with torch.no_grad():
        pol.logits.add_(torch.arange(5, dtype=torch.float64))
    old = anchor.logits.clone()
    anchor.ema_update_(pol, 0.25)
    np.testing.assert_allclose(anchor.logits.numpy(), (0.75 * old + 0.25 * pol.logits.detach()).numpy(), atol=1e-14)
    hard_reset_(anchor, pol)
    np.testing.assert_allclose(anchor.probs_np(), pol.probs_np(), atol=1e-14)


def test_bad_input():
    with pytest.raises(ValueError, match="family"):
        make_policy("mlp", np.arange(3.0), np.ones(3) / 3)
    with pytest.raises(ValueError, match="probs"):
        TabularPolicy([0.5, 0.5, 0.0])
    with pytest.raises(ValueError, match="x"):
        GaussianPolicy(np.zeros(3), np.ones(3) / 3)
    with pytest.raises(ValueError, match="generator"):
        TabularPolicy([0.5, 0.5]).sample(3, np.random.default_rng(0))
    with pytest.raises(ValueError, match="eta"):
        TabularPolicy([0.5, 0.5]).ema_update_(TabularPolicy([0.5, 0.5]), 1.5)
