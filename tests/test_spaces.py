import numpy as np
import pytest

import bondlab as bl
from bondlab.spaces import REWARD_SHAPES, grid_mixture


def test_grid_mixture_is_the_weighted_mixture():
    a = bl.grid_mixture(51, weights=(1, 0))
    b = bl.grid_mixture(51, weights=(0, 1))
    m = bl.grid_mixture(51, weights=(0.3, 0.7))
    assert np.allclose(m.ref_probs, 0.3 * a.ref_probs + 0.7 * b.ref_probs)
    assert a.x[np.argmax(a.ref_probs)] == pytest.approx(-0.4, abs=0.05)


@pytest.mark.parametrize("kind", REWARD_SHAPES)
def test_reward_shapes(kind):
    s = bl.grid_mixture(41, reward=kind)
    assert np.isfinite(s.rewards).all() and s.rewards.shape == (41,)


def test_steps_have_ties_and_tie_example_has_b_above_one():
    assert len(np.unique(bl.grid_mixture(41, reward="steps").rewards)) == 5
    t = bl.tie_example()
    _, b = bl.bon_terms(t.ref_probs, t.rewards, 4)
    assert b.max() > 1.5


def test_bad_input():
    with pytest.raises(ValueError, match="weights"):
        bl.grid_mixture(weights=(-1, 1))
    with pytest.raises(ValueError, match="kind"):
        bl.reward_shape([0.0], "cubic")
    with pytest.raises(ValueError, match="scales"):
        bl.grid_mixture(scales=(0.0, 1.0))


@pytest.mark.parametrize("means, scales", [((7.0, 7.0), (0.2, 0.15)), ((-0.4, 0.4), (0.2, 1e-320))])
def test_grid_mixture_refuses_a_component_with_no_mass_on_the_grid(means, scales):
    """A mean far outside [-1, 1] (its Gaussian underflows to 0 everywhere) or a subnormal scale (1/scale
    overflows) would give 0/0 or inf/inf: a ValueError naming means and scales, never a NaN law."""
    with pytest.raises(ValueError, match=r"means\[\d\].*scales\[\d\]"):
        grid_mixture(means=means, scales=scales)
