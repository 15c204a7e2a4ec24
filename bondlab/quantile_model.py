"""A learned quantile model p_hat_le(y), trained with binary cross-entropy (Sessa et al. 2024, App. B.1).

Instead of counting k reference samples for every policy sample, fit q_phi(y) ~ p_le(y) once: draw a
query y and a reference sample y' ~ pi_ref, label z = 1[r(y') <= r(y)], and minimise

    BCE(q_phi(y), z) = -z log q_phi(y) - (1 - z) log(1 - q_phi(y)).

For each y, the expected loss over y' is minimised at q = P[r(y') <= r(y)] = p_le(y), so the model
learns the quantile itself. The output is a sigmoid, so log q is finite: there is no p_hat_le = 0 to clamp.

On a toy space the input features are the standardised reward (p_le is a monotone function of r) or a
one-hot code of the outcome; at LM scale the same loss trains a head on (prompt, response) features.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from . import _validate as V
from .bon import sample_ref

__all__ = ["QuantileModel", "QuantileConfig", "quantile_bce_loss", "reward_features", "fit_quantile_model"]


class QuantileModel(nn.Module):
    """q_phi(features) in (0, 1): a one-hidden-layer MLP with a sigmoid output, float64."""

    def __init__(self, in_features: int = 2, hidden: int = 32):
        super().__init__()
        in_features = V.positive_int(in_features, "in_features")
        hidden = V.positive_int(hidden, "hidden")
        self.net = nn.Sequential(nn.Linear(in_features, hidden), nn.Tanh(), nn.Linear(hidden, 1)).double()

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        """(B, F) -> (B,) logit of p_hat_le."""
        return self.net(features).squeeze(-1)

    def log_p_le(self, features: torch.Tensor) -> torch.Tensor:
        """(B, F) -> (B,) log p_hat_le = logsigmoid(logit), finite everywhere."""
        return F.logsigmoid(self.logits(features))

    def p_le(self, features: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.logits(features))


def quantile_bce_loss(model: QuantileModel, features: torch.Tensor, r: torch.Tensor, r_ref: torch.Tensor) -> torch.Tensor:
    """BCE of q_phi(y) against z = 1[r(y') <= r(y)]; features (B, F), r (B,), r_ref (B,) rewards of y' ~ pi_ref."""
    if r.shape != r_ref.shape or features.shape[0] != r.shape[0]:
        raise ValueError(f"features {tuple(features.shape)}, r {tuple(r.shape)} and r_ref {tuple(r_ref.shape)} disagree")
    z = (r_ref <= r).to(torch.float64)                                       # (B,)
    return F.binary_cross_entropy_with_logits(model.logits(features), z)


def reward_features(rewards) -> torch.Tensor:
    """(K,) rewards -> (K, 2): the standardised reward and its rank among the K outcomes scaled to [-1, 1].

    p_le is a monotone function of r, but rewards can crowd (many near-0 values of a 'bump'); the rank
    spreads them out. Ties share a rank. Neither feature uses pi_ref, so the model still has to learn p_le.
    """
    r = np.asarray(V.rewards(rewards), dtype=np.float64)
    sd = r.std()
    z = (r - r.mean()) / (sd if sd > 0 else 1.0)
    rank = np.searchsorted(np.sort(r), r, side="left") / max(r.size - 1, 1) * 2 - 1
    return torch.tensor(np.stack([z, rank], axis=1), dtype=torch.float64)


@dataclass
class QuantileConfig:
    steps: int = 600        # Adam steps
    batch: int = 512        # (query, reference) pairs per step
    lr: float = 0.02        # Adam learning rate
    hidden: int = 32        # hidden units of the MLP
    seed: int = 0           # seeds the numpy and torch generators


def fit_quantile_model(ref_probs, rewards, cfg: QuantileConfig | None = None, *, features: torch.Tensor | None = None,
                       query_probs=None, progress: bool = False):
    """Fit q_phi ~ p_le under ``ref_probs`` by BCE. Returns ``(model, features, losses)``.

    Queries y are drawn from ``query_probs`` (default uniform over the space, so every outcome is learned);
    references y' from ``ref_probs``. ``features`` (K, F) defaults to :func:`reward_features`.
    """
    cfg = cfg or QuantileConfig()
    ref_probs = V.probs(ref_probs)
    rewards = V.rewards(rewards, ref_probs.size)
    K = ref_probs.size
    query_probs = np.full(K, 1.0 / K) if query_probs is None else V.probs(query_probs, "query_probs")
    if query_probs.size != K:
        raise ValueError(f"query_probs has length {query_probs.size} but ref_probs has {K}")
    feats = reward_features(rewards) if features is None else features.to(torch.float64)
    if feats.ndim != 2 or feats.shape[0] != K:
        raise ValueError(f"features must have shape (K={K}, F), got {tuple(feats.shape)}")
    rng = np.random.default_rng(cfg.seed)
    torch.manual_seed(cfg.seed)  # initial weights; sampling below uses rng
    model = QuantileModel(feats.shape[1], cfg.hidden)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=V.positive_int(cfg.steps, "steps"))
    r_t = torch.tensor(rewards)
    losses = []
    for _ in tqdm(range(V.positive_int(cfg.steps, "steps")), disable=not progress, desc="quantile model"):
        y = torch.from_numpy(sample_ref(query_probs, cfg.batch, rng))       # (B,) queries
        y_ref = torch.from_numpy(sample_ref(ref_probs, cfg.batch, rng))     # (B,) reference samples
        loss = quantile_bce_loss(model, feats[y], r_t[y], r_t[y_ref])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
    return model, feats, losses
