"""A NaN reward among Best-of-N candidates is refused, naming the argument (NaN > x is False, so a NaN
candidate would otherwise lose or win a comparison without a word)."""
import numpy as np
import pytest
import torch

import bondlab as bl
from bondlab.lm import bestofn
from bondlab.lm.jbond import jbond_batch
from bondlab.lm.metrics import checked_rewards


class FakePolicy:
    """The LMPolicy interface, reduced to what the Best-of-N selections call."""

    def sample(self, prompts, generator):
        return torch.arange(len(prompts))[:, None], None                        # (B, 1) one token each

    def texts(self, prompts, completions):
        return [f"{p} {int(c)}" for p, c in zip(prompts, completions[:, 0])]

    def log_prob(self, prompts, completions):
        return torch.zeros(len(prompts))


def nan_third(texts):
    r = np.arange(len(texts), dtype=float)
    r[2] = np.nan
    return r


def test_best_of_n_refuses_a_nan_reward():
    with pytest.raises(ValueError, match="reward"):
        bestofn.best_of_n(FakePolicy(), ["a", "b"], 3, nan_third, torch.Generator().manual_seed(0))
    res = bestofn.best_of_n(FakePolicy(), ["a", "b"], 3, lambda t: np.arange(len(t), dtype=float),
                            torch.Generator().manual_seed(0))
    assert res["best"].tolist() == [2, 2]                                     # the finite case still works


def test_jbond_batch_refuses_a_nan_reward():
    def reward_fn(prompts, completions):
        return torch.tensor(nan_third([0] * len(prompts)))
    with pytest.raises(ValueError, match="reward_fn"):
        jbond_batch(FakePolicy(), FakePolicy(), ["a", "b", "c"], reward_fn, torch.Generator().manual_seed(0))


@pytest.mark.parametrize("bad,match", [([0.0, np.nan], "NaN"), ([0.0, np.inf], "NaN or inf"), ([0.0], "shape"),
                                       (["x", "y"], "numbers")])
def test_checked_rewards(bad, match):
    with pytest.raises(ValueError, match=match):
        checked_rewards(bad, 2, "reward_fn")


def test_sample_bon_refuses_a_nan_reward():
    with pytest.raises(ValueError, match="rewards"):
        bl.sample_bon([0.5, 0.5], [0.0, np.nan], 2, 10, np.random.default_rng(0))
