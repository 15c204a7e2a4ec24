"""Learned quantile model (paper App. B.1): BCE's minimiser is p_le, and the fit gets close to it."""
import numpy as np
import pytest
import torch

import bondlab as B
from bondlab.quantile_model import QuantileConfig, QuantileModel, fit_quantile_model, quantile_bce_loss



def _expected_bce(q, p_le):
    """E over y' ~ pi_ref of BCE(q(y), 1[r(y') <= r(y)]) = -(p_le log q + (1 - p_le) log(1 - q))."""
    return -(p_le * np.log(q) + (1 - p_le) * np.log(1 - q))


def test_bce_is_minimised_at_the_true_quantile():
    p = np.linspace(0.05, 0.95, 19)
    grid = np.linspace(0.001, 0.999, 999)
    best = grid[np.argmin(_expected_bce(grid[None, :], p[:, None]), axis=1)]
    np.testing.assert_allclose(best, p, atol=1e-3)


def test_fitted_model_tracks_p_le():
    s = B.grid_mixture(k=41, reward="bump")
    _, p_le = B.quantiles(s.ref_probs, s.rewards)
    for feats, tol in ((None, 0.06), (torch.eye(41, dtype=torch.float64), 0.06)):
        model, f, losses = fit_quantile_model(s.ref_probs, s.rewards, QuantileConfig(steps=800), features=feats)
        q = model.p_le(f).detach().numpy()
        assert np.abs(q - p_le).max() < tol
        assert np.all((q > 0) & (q < 1)) and np.isfinite(model.log_p_le(f).detach().numpy()).all()
        # the learned q has nearly the minimal expected BCE (the exact minimum is at p_le)
        assert s.ref_probs @ _expected_bce(np.clip(q, 1e-9, 1 - 1e-9), p_le) - \
            s.ref_probs @ _expected_bce(np.clip(p_le, 1e-9, 1 - 1e-9), p_le) < 0.01
        assert np.mean(losses[-50:]) < np.mean(losses[:50])


def test_same_seed_same_model_and_bad_input():
    s = B.grid_mixture(k=21)
    a = fit_quantile_model(s.ref_probs, s.rewards, QuantileConfig(steps=20, seed=3))
    b = fit_quantile_model(s.ref_probs, s.rewards, QuantileConfig(steps=20, seed=3))
    assert a[2] == b[2]
    with pytest.raises(ValueError, match="features"):
        fit_quantile_model(s.ref_probs, s.rewards, QuantileConfig(steps=2), features=torch.zeros(3, 1))
    with pytest.raises(ValueError, match="hidden"):
        QuantileModel(1, 0)
    m = QuantileModel()
    with pytest.raises(ValueError, match="r_ref"):
        quantile_bce_loss(m, torch.zeros(3, 1, dtype=torch.float64), torch.zeros(3), torch.zeros(2))
