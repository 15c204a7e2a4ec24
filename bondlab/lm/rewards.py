"""Rewards for the review GPT: plain callables from a list of strings to a float64 array.

* Gold: VADER's compound sentiment score in [-1, 1] (Hutto & Gilbert 2014; its lexicon ships inside the
  ``vaderSentiment`` package, nothing is downloaded). VADER knows negation ("not good" < 0).
* Proxy: a Bradley-Terry reward model over bag-of-words counts, fit by maximum likelihood (L2-regularised)
  on a limited number of *noisy* gold comparisons. A bag of words cannot see word order, so negation fools
  it ("not great" scores like "great"), and words it rarely saw get unreliable weights: the LM-scale version
  of reward over-optimization (Gao et al. 2022) that Best-of-N with a large N, or BOND, can exploit.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .. import _validate as V
from .corpus import Tokenizer, review_tokenizer, sample_reviews

__all__ = ["VaderReward", "ProxyReward", "ProxyConfig", "train_proxy", "reward_fn"]


def _texts(texts) -> list[str]:
    if isinstance(texts, str):
        raise ValueError("texts must be a list of strings, not one string")
    texts = list(texts)
    for t in texts:
        if not isinstance(t, str):
            raise ValueError(f"texts must hold strings, found {type(t).__name__}")
    return texts


class VaderReward:
    """Gold reward: VADER compound score of each text, (B,) float64 in [-1, 1]."""

    def __init__(self):
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
        self._sia = SentimentIntensityAnalyzer()

    def __call__(self, texts) -> np.ndarray:
        return np.array([self._sia.polarity_scores(t)["compound"] for t in _texts(texts)], dtype=np.float64)


@dataclass
class ProxyConfig:
    num_pairs: int = 400        # noisy gold comparisons the proxy learns from
    temperature: float = 0.25   # label noise: P(a preferred) = sigmoid((gold(a) - gold(b)) / temperature)
    l2: float = 1e-2            # L2 penalty on the word weights
    seed: int = 0               # seeds the texts, the labels


class ProxyReward:
    """Bradley-Terry proxy: r(text) = sum of the learned weights of its words (bag of words)."""

    def __init__(self, weights: np.ndarray, tokenizer: Tokenizer):
        self.weights = np.asarray(weights, dtype=np.float64)   # (V,) one weight per token
        self.tokenizer = tokenizer

    def features(self, texts) -> np.ndarray:
        """(B, V) word counts (unknown words are ignored: they carry weight 0)."""
        texts = _texts(texts)
        index = {w: i for i, w in enumerate(self.tokenizer.words)}
        X = np.zeros((len(texts), len(self.tokenizer.words)))
        for j, t in enumerate(texts):
            for w in t.replace(".", " . ").split():
                if w in index:
                    X[j, index[w]] += 1
        return X

    def __call__(self, texts) -> np.ndarray:
        return self.features(texts) @ self.weights


def train_proxy(cfg: ProxyConfig | None = None, gold=None) -> ProxyReward:
    """Fit the Bradley-Terry proxy on ``cfg.num_pairs`` noisy comparisons of grammar reviews.

    Labels: a beats b with probability sigmoid((gold(a) - gold(b)) / temperature), drawn from the seed.
    Maximum likelihood: minimise mean softplus(-(r(a) - r(b)) * sign) + l2 |w|^2 (convex; L-BFGS)."""
    cfg = cfg or ProxyConfig()
    V.positive_int(cfg.num_pairs, "num_pairs")
    if not cfg.temperature > 0:
        raise ValueError(f"temperature must be positive, got {cfg.temperature!r}")
    rng = np.random.default_rng(cfg.seed)
    gold = gold or VaderReward()
    tok = review_tokenizer()
    a, b = sample_reviews(cfg.num_pairs, rng), sample_reviews(cfg.num_pairs, rng)
    ga, gb = gold(a), gold(b)
    p_a = 1.0 / (1.0 + np.exp(-(ga - gb) / cfg.temperature))
    y = np.where(rng.random(cfg.num_pairs) < p_a, 1.0, -1.0)            # +1: a preferred
    proxy = ProxyReward(np.zeros(tok.vocab_size), tok)
    D = torch.tensor(proxy.features(a) - proxy.features(b))             # (pairs, V) feature differences
    yt = torch.tensor(y)
    w = torch.zeros(tok.vocab_size, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w], lr=1.0, max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.softplus(-yt * (D @ w)).mean() + cfg.l2 * (w ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    proxy.weights = w.detach().numpy().copy()
    return proxy


def reward_fn(name: str):
    """'gold' -> VaderReward(), 'proxy' -> train_proxy() with the default config."""
    if name == "gold":
        return VaderReward()
    if name == "proxy":
        return train_proxy()
    raise ValueError(f"reward must be 'gold' or 'proxy', got {name!r}")
