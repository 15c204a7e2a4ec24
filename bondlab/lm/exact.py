"""Exact sequence-level maths on the micro language: every sequence, its pi_ref, pi_BoN and divergences.

The enumerable space. Symbols A = {a..e} (5), the end token, maximum length L = 6. A sequence is
    w <end>   for a string w in A^k, k = 0..L-1   (it ended early; what would follow is padding), or
    w         for w in A^L                        (it reached L tokens without an end token: truncated),
which is exactly the set of outcomes of the sampler with max_new_tokens = L. There are
sum_{k<L} 5^k + 5^L = 3,906 + 15,625 = 19,531 of them, and their probabilities sum to 1 (a finite tree).

The cheap way. Every prefix of every sequence is a prefix of one of the 5^(L-1) = 3,125 strings in A^(L-1).
One causal forward pass over <bos> + those strings (3,125 x 6 tokens, method "flat") yields the
next-token distribution of every prefix at once; cheaper still (method "tree", the default), walk the
prefix tree level by level, branching a KV cache with ``repeat_interleave`` so that each distinct prefix
costs one token: sum_{k<L} 5^k = 3,906 positions. A cumulative sum gives log pi of each prefix, and each
sequence is a prefix plus one last token (its end token or its L-th symbol). Both are differentiable, so
exact KL to any target can be minimised by gradient descent (exact training).

Best-of-N over sequences uses the level form of Theorem 1 (Sessa et al. 2024, Sec. 3.1) through
``bondlab.bon.bon_log_probs_torch``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from ..bon import bon_log_probs_torch
from .corpus import MICRO_LENGTH, MICRO_SYMBOLS, Tokenizer, micro_reward, micro_tokenizer
from .model import GPT

__all__ = ["MicroSpace", "micro_space", "exact_bon_log_probs", "exact_kl", "kl_to_target", "jeffreys_to_target",
           "reward_law", "sample_bon_indices"]


@dataclass
class MicroSpace:
    """The enumerated micro space (S sequences), with what is needed to score it in one forward pass."""
    tokenizer: Tokenizer
    length: int                 # L, the longest sequence
    prefixes: torch.Tensor      # (M, L) <bos> + every string of L-1 symbols, M = 5^(L-1)
    completions: torch.Tensor   # (S, L) every sequence as the sampler writes it (pad after <end>)
    pre_idx: torch.Tensor       # (S,) the prefix row that contains the sequence's first k symbols
    k: torch.Tensor             # (S,) symbols before the last token (0..L-1)
    last: torch.Tensor          # (S,) the last token: <end>, or the L-th symbol of a truncated sequence
    rewards: torch.Tensor       # (S,) float64, micro_reward of each sequence
    symbols: torch.Tensor       # (A,) token ids of the symbols a..e

    @property
    def num_sequences(self) -> int:
        return int(self.completions.shape[0])

    def log_probs(self, model: GPT, method: str = "tree") -> torch.Tensor:
        """(S,) log pi(y) for every sequence, in the order of ``completions``; differentiable.

        method "tree": walk the prefix tree level by level with a branching KV cache, one token per
        distinct prefix (sum_{k<L} 5^k = 3,906 positions). "flat": one causal pass over the 5^(L-1)
        longest prefixes (3,125 x 6 = 18,750 positions). Both give every next-token distribution.
        Returned in float64 (log-softmax and sums taken in float64)."""
        if not isinstance(model, GPT):
            raise ValueError(f"model must be a bondlab.lm.GPT, got {type(model).__name__}")
        if model.cfg.vocab_size != self.tokenizer.vocab_size or model.cfg.block_size < self.length:
            raise ValueError("model does not fit the micro space (vocab_size or block_size differ)")
        if method == "tree":
            return self._log_probs_tree(model)
        if method != "flat":
            raise ValueError(f"method must be 'tree' or 'flat', got {method!r}")
        M, L = self.prefixes.shape
        logp = torch.log_softmax(model(self.prefixes).double(), dim=-1)            # (M, L, V): row j, position i -> token i
        step = torch.gather(logp[:, :-1], 2, self.prefixes[:, 1:, None])[:, :, 0]  # (M, L-1) log pi(symbol i | first i)
        cum = torch.cat([step.new_zeros(M, 1), torch.cumsum(step, dim=1)], dim=1)  # (M, L) log pi(first k)
        V = logp.shape[-1]
        head = cum.reshape(-1)[self.pre_idx * L + self.k]                          # (S,)
        tail = logp.reshape(-1)[(self.pre_idx * L + self.k) * V + self.last]       # (S,)
        return head + tail

    def _log_probs_tree(self, model: GPT) -> torch.Tensor:
        A, L, end = self.symbols.numel(), self.length, self.tokenizer.end_id
        tok = torch.tensor([[self.tokenizer.bos_id]])                       # (1, 1) the root
        logits, past = model.forward_past(tok)
        logp = torch.log_softmax(logits[:, -1].double(), dim=-1)            # (1, V) level 0
        head = torch.zeros(1, dtype=torch.float64)                          # (1,) log pi(prefix)
        ended, nodes = [], 1
        for k in range(L):
            ended.append(head + logp[:, end])                               # (A^k,) w <end>, |w| = k
            step = logp[:, self.symbols].reshape(-1)                        # (A^(k+1),) child = parent * A + s
            head = head.repeat_interleave(A) + step
            if k == L - 1:
                break                                                       # head: the truncated sequences
            nodes *= A
            past = [(kk.repeat_interleave(A, 0), vv.repeat_interleave(A, 0)) for kk, vv in past]
            tok = self.symbols.repeat(nodes // A)[:, None]                  # (A^(k+1), 1)
            logits, past = model.forward_past(tok, past)
            logp = torch.log_softmax(logits[:, -1].double(), dim=-1)        # (A^(k+1), V)
        return torch.cat(ended + [head])

    def texts(self) -> list[str]:
        return [self.tokenizer.decode(c) for c in self.completions]

    def index_of(self, completions: torch.Tensor) -> torch.Tensor:
        """Map sampled (B, T<=L) micro completions to their row in the space: (B,) long."""
        if completions.ndim != 2 or completions.shape[1] > self.length:
            raise ValueError(f"completions must be (B, T) with T <= {self.length}")
        pad = self.tokenizer.pad_id
        c = torch.full((completions.shape[0], self.length), pad, dtype=torch.long)
        c[:, :completions.shape[1]] = completions
        keys = _keys(c, self.tokenizer.vocab_size)
        pos = torch.searchsorted(self._sorted_keys, keys).clamp(max=self.num_sequences - 1)
        if (self._sorted_keys[pos] != keys).any():
            raise ValueError("completions contain a sequence outside the micro space")
        return self._key_order[pos]

    def __post_init__(self):
        keys = _keys(self.completions, self.tokenizer.vocab_size)
        self._sorted_keys, self._key_order = torch.sort(keys)


def _keys(c: torch.Tensor, base: int) -> torch.Tensor:
    w = base ** torch.arange(c.shape[1], dtype=torch.long)
    return (c * w).sum(1)


def _strings(A: int, k: int) -> torch.Tensor:
    """(A^k, k) every string of k digits in base A, in lexicographic order."""
    idx = torch.arange(A ** k)
    return (idx[:, None] // (A ** torch.arange(k - 1, -1, -1))[None, :]) % A


_CACHE: dict = {}


def micro_space(length: int = MICRO_LENGTH) -> MicroSpace:
    """Build (once) the enumerated micro space of sequences up to ``length`` tokens."""
    if isinstance(length, bool) or not isinstance(length, int) or not 1 <= length <= 6:
        raise ValueError(f"length must be an integer in 1..6 (the space grows as 5^length), got {length!r}")
    if length in _CACHE:
        return _CACHE[length]
    tok = micro_tokenizer()
    sym = [tok.words.index(s) for s in MICRO_SYMBOLS]                    # token ids of a..e
    A, L = len(sym), length
    strings = _strings(A, L - 1)                                                # (M, L-1)
    sym_t = torch.tensor(sym)
    prefixes = torch.cat([torch.full((strings.shape[0], 1), tok.bos_id), sym_t[strings]], dim=1)  # (M, L)
    weights = A ** torch.arange(L - 2, -1, -1)                                  # row j = base-5 number of its string
    comps, pre, ks, lasts = [], [], [], []
    for k in range(L):                                                          # w <end>, |w| = k
        w = _strings(A, k)                                                      # (A^k, k)
        padded = torch.cat([w, torch.zeros(w.shape[0], L - 1 - k, dtype=torch.long)], dim=1)
        pre.append((padded * weights).sum(1))
        c = torch.full((w.shape[0], L), tok.pad_id, dtype=torch.long)
        c[:, :k] = sym_t[w]
        c[:, k] = tok.end_id
        comps.append(c)
        ks.append(torch.full((w.shape[0],), k))
        lasts.append(torch.full((w.shape[0],), tok.end_id))
    rows = torch.arange(strings.shape[0])                                       # truncated: A^(L-1) x A
    pre.append(rows.repeat_interleave(A))
    comps.append(torch.cat([prefixes[:, 1:].repeat_interleave(A, 0), sym_t.repeat(strings.shape[0])[:, None]], 1))
    ks.append(torch.full((rows.numel() * A,), L - 1))
    lasts.append(sym_t.repeat(strings.shape[0]))
    completions = torch.cat(comps)
    space = MicroSpace(tok, L, prefixes, completions, torch.cat(pre), torch.cat(ks), torch.cat(lasts),
                       micro_reward(completions), sym_t)
    _CACHE[length] = space
    return space


def exact_bon_log_probs(log_ref: torch.Tensor, rewards: torch.Tensor, n) -> torch.Tensor:
    """(S,) exact log pi_BoN over sequences (Sessa et al. 2024, Theorem 1), differentiable in log_ref.

    log_ref is renormalised in float64 first (float32 token log-probs leave sums off 1 by ~1e-7)."""
    log_ref = log_ref.double()
    log_ref = log_ref - torch.logsumexp(log_ref, dim=-1, keepdim=True)
    return bon_log_probs_torch(log_ref, rewards.double(), n)


def exact_kl(log_p: torch.Tensor, log_q: torch.Tensor) -> torch.Tensor:
    """KL(p || q) = sum_y p(y) (log p(y) - log q(y)) over an enumerated space, differentiable in both.

    0 log 0 = 0; +inf where p > 0 = q."""
    if log_p.shape != log_q.shape or log_p.ndim != 1:
        raise ValueError(f"log_p {tuple(log_p.shape)} and log_q {tuple(log_q.shape)} must be 1-D of one length")
    if torch.isnan(log_p).any() or torch.isnan(log_q).any():
        raise ValueError("log_p or log_q contains NaN")
    live = torch.isfinite(log_p)
    if (live & torch.isneginf(log_q)).any():
        return torch.tensor(float("inf"), dtype=log_p.dtype)
    d = torch.where(live, log_p - torch.where(live, log_q, torch.zeros_like(log_q)), torch.zeros_like(log_p))
    return (torch.exp(log_p) * d).sum()


def kl_to_target(model: GPT, log_target: torch.Tensor, direction: str = "backward",
                 space: MicroSpace | None = None) -> torch.Tensor:
    """Exact KL between a model's law over sequences and a target law, differentiable in the model.

    direction "backward": KL(pi_model || target) (mode-seeking); "forward": KL(target || pi_model)."""
    space = space or micro_space()
    if direction not in ("backward", "forward"):
        raise ValueError(f"direction must be 'backward' or 'forward', got {direction!r}")
    log_pi = space.log_probs(model)                                             # (S,)
    log_target = log_target.double()
    return exact_kl(log_pi, log_target) if direction == "backward" else exact_kl(log_target, log_pi)


def jeffreys_to_target(model: GPT, log_target: torch.Tensor, beta: float, space: MicroSpace | None = None):
    """J_beta = (1 - beta) KL(target || pi) + beta KL(pi || target) (Sessa et al. 2024, Sec. 4.1), exact."""
    if not 0.0 <= float(beta) <= 1.0:
        raise ValueError(f"beta must lie in [0, 1], got {beta!r}")
    space = space or micro_space()
    log_pi = space.log_probs(model)
    log_target = log_target.double()
    return (1 - beta) * exact_kl(log_target, log_pi) + beta * exact_kl(log_pi, log_target)


def reward_law(log_probs: torch.Tensor, rewards: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """The exact law of the reward: (levels (R,), probabilities (R,)) with levels increasing."""
    levels, inv = torch.unique(rewards, return_inverse=True)
    p = torch.zeros(levels.numel(), dtype=torch.float64).scatter_add_(0, inv, torch.exp(log_probs.detach().double()))
    return levels.numpy(), p.numpy()


@torch.no_grad()
def sample_bon_indices(model: GPT, n: int, draws: int, generator: torch.Generator,
                       space: MicroSpace | None = None, batch: int = 8192) -> torch.Tensor:
    """Sequence-level Best-of-n by real sampling: ``draws`` groups of n sequences from the model, keep the
    first with the highest reward; returns (draws,) indices into the space. The Monte Carlo oracle."""
    space = space or micro_space()
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if isinstance(draws, bool) or not isinstance(draws, int) or draws < 1:
        raise ValueError(f"draws must be a positive integer, got {draws!r}")
    idx = []
    total = n * draws
    starts = range(0, total, batch)
    for lo in tqdm(starts, desc=f"Best-of-{n} draws", disable=len(starts) <= 4, leave=False):
        b = min(batch, total - lo)
        prompts = torch.full((b, 1), space.tokenizer.bos_id, dtype=torch.long)
        comp, _ = model.generate(prompts, space.length, generator)
        idx.append(space.index_of(comp))
    idx = torch.cat(idx).reshape(draws, n)                                      # (draws, n)
    first_best = torch.argmax(space.rewards[idx], dim=1)                        # first argmax
    return idx[torch.arange(draws), first_best]
