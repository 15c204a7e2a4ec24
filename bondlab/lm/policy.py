"""The policy interface the trainers call: a GPT plus its tokenizer, speaking text prompts.

    policy.sample(prompts, generator)         -> (completions (B, T) long, mask (B, T) bool)
    policy.log_prob(prompts, completions)     -> (B,) log pi(y | x), differentiable
    policy.texts(prompts, completions)        -> B strings for the reward
    policy.anchor()                           -> a frozen deep copy (the reference / EMA anchor)
    policy.ema_update_(source, eta)           -> theta <- (1 - eta) theta + eta theta_source (bondlab.anchor)

It satisfies :class:`bondlab.policy.Policy`, as the toy tables and ``bondlab.hf.HFPolicy`` do.

Prompts are a list of strings; prompts of different lengths are batched by length internally, and the
completions come back in the order given. ``bondlab.lm.exact`` gives the same model's exact law on the
micro space.
"""
from __future__ import annotations

import copy

import torch

from ..anchor import ema_
from .corpus import Tokenizer
from .model import GPT, completion_mask

__all__ = ["LMPolicy"]


class LMPolicy:
    def __init__(self, model: GPT, tokenizer: Tokenizer, max_new_tokens: int = 24):
        if not isinstance(model, GPT):
            raise ValueError(f"model must be a bondlab.lm.GPT, got {type(model).__name__}")
        if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be a positive integer, got {max_new_tokens!r}")
        self.model = model
        self.tokenizer = tokenizer
        self.max_new_tokens = max_new_tokens

    def parameters(self):
        return self.model.parameters()

    @property
    def pad_id(self) -> int:
        """The id that pads completions after the end token."""
        return self.tokenizer.pad_id

    def _groups(self, prompts):
        """[(row indices, (b, P) prompt ids)] grouping prompts of equal length."""
        if isinstance(prompts, str) or len(prompts) == 0:
            raise ValueError("prompts must be a non-empty list of strings")
        ids = [[self.tokenizer.bos_id] + self.tokenizer.encode(p) for p in prompts]
        by_len: dict[int, list[int]] = {}
        for i, r in enumerate(ids):
            by_len.setdefault(len(r), []).append(i)
        return [(rows, torch.tensor([ids[i] for i in rows], dtype=torch.long)) for rows in by_len.values()]

    def check_fits(self, prompts, n_tokens: int | None = None, name: str = "max_new_tokens") -> None:
        """ValueError naming ``name`` and the limit unless the longest prompt (with its BOS) plus ``n_tokens``
        (default ``max_new_tokens``) completion tokens fit block_size (the last token is never fed)."""
        self._fit(self._groups(prompts), self.max_new_tokens if n_tokens is None else n_tokens, name)

    def _fit(self, groups, n: int, name: str) -> None:
        limit, P = self.model.cfg.block_size, max(p.shape[1] for _, p in groups)
        if P + n - 1 > limit:
            raise ValueError(f"{name} ({n}) is too large for the model: the longest prompt has {P} tokens, and "
                             f"{P} + {n} - 1 exceeds its block_size {limit}; at most {limit - P + 1} fit")

    def sample(self, prompts, generator: torch.Generator, **kw):
        """Sample one completion per prompt: ((B, T) long ids, (B, T) bool mask). ``kw`` goes to
        ``GPT.generate`` (temperature, top_k, use_cache)."""
        parts, groups = [], self._groups(prompts)
        self._fit(groups, self.max_new_tokens, "max_new_tokens")     # before any group is sampled
        for rows, p in groups:
            comp, _ = self.model.generate(p, self.max_new_tokens, generator, **kw)
            parts.append((rows, comp))
        T = max(c.shape[1] for _, c in parts)
        out = torch.full((len(prompts), T), self.tokenizer.pad_id, dtype=torch.long)
        for rows, c in parts:
            out[rows, :c.shape[1]] = c
        return out, completion_mask(out, self.tokenizer.end_id)

    def token_log_probs(self, prompts, completions: torch.Tensor):
        """((B, T) log pi(y_t | x, y_<t), (B, T) mask); differentiable."""
        if not isinstance(completions, torch.Tensor) or completions.ndim != 2 or completions.shape[0] != len(prompts):
            raise ValueError(f"completions must be a (B, T) tensor with B = {len(prompts)} prompts")
        logp = torch.zeros(completions.shape, dtype=self.model.wte.weight.dtype)
        mask = torch.zeros(completions.shape, dtype=torch.bool)
        for rows, p in self._groups(prompts):
            lp, m = self.model.token_log_probs(p, completions[rows])
            logp = logp.index_put((torch.tensor(rows),), lp)
            mask[rows] = m
        return logp, mask

    def vocab_log_probs(self, prompts, completions: torch.Tensor):
        """((B, T, V) log pi(. | x, y_<t) over the whole vocabulary, (B, T) mask); differentiable."""
        if not isinstance(completions, torch.Tensor) or completions.ndim != 2 or completions.shape[0] != len(prompts):
            raise ValueError(f"completions must be a (B, T) tensor with B = {len(prompts)} prompts")
        parts = [(rows, *self.model.vocab_log_probs(p, completions[rows])) for rows, p in self._groups(prompts)]
        if len(parts) == 1:
            return parts[0][1], parts[0][2]
        logp = torch.zeros(*completions.shape, parts[0][1].shape[-1], dtype=parts[0][1].dtype)
        mask = torch.zeros(completions.shape, dtype=torch.bool)
        for rows, lp, m in parts:
            logp = logp.index_put((torch.tensor(rows),), lp)
            mask[rows] = m
        return logp, mask

    def log_prob(self, prompts, completions: torch.Tensor) -> torch.Tensor:
        """(B,) sequence log-probabilities log pi(y | x), masked past the end token; differentiable."""
        return self.token_log_probs(prompts, completions)[0].sum(dim=1)

    def texts(self, prompts, completions: torch.Tensor) -> list[str]:
        """Prompt + completion as text (what the reward reads)."""
        return [(p + " " + self.tokenizer.decode(c)).strip() for p, c in zip(prompts, completions)]

    def anchor(self) -> "LMPolicy":
        """A frozen deep copy: gradients off, eval mode. Update it by EMA with ``ema_update_``."""
        model = copy.deepcopy(self.model).eval()
        for p in model.parameters():
            p.requires_grad_(False)
        return LMPolicy(model, self.tokenizer, self.max_new_tokens)

    def ema_update_(self, source: "LMPolicy", eta: float) -> "LMPolicy":
        """theta_anchor <- (1 - eta) theta_anchor + eta theta_source (:func:`bondlab.anchor.ema_`)."""
        ema_(self, source, eta)
        return self
