"""A tiny decoder-only GPT (nanoGPT's shape): pre-LayerNorm blocks, causal self-attention through
``F.scaled_dot_product_attention``, learned positions, tied embeddings.

It is the LM-scale pi_ref of Sessa et al. 2024 (BOND, Sec. 5): a sampler of whole sequences plus their
log-probabilities. Sampling uses a KV cache, temperature 1 and no top-k by default, so that samples follow
the model's true distribution pi_ref; log-probabilities of given completions come from teacher forcing and
are masked past the end token.

Conventions: a prompt is a (B, P) batch of token ids starting with the BOS token; a completion is a (B, T)
batch; its tokens after the first end token are padding and count for nothing. A completion that reaches T
tokens without an end token is a truncated sequence and counts all T tokens (that is the sampler's law).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["GPTConfig", "GPT", "completion_mask"]


@dataclass
class GPTConfig:
    vocab_size: int = 64           # tokens, specials included (pad, end, bos)
    block_size: int = 32           # longest context the positions cover (prompt + completion)
    n_layer: int = 4               # transformer blocks
    n_head: int = 4                # attention heads per block
    n_embd: int = 128              # model width; must be divisible by n_head
    end_id: int = 1                # the end token: sampling stops there, log-probs are masked after it
    pad_id: int = 0                # the padding token written after the end token
    no_emit: tuple = field(default_factory=tuple)  # token ids the model never emits (pad, bos): logit -inf

    def __post_init__(self):
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head})")
        self.no_emit = tuple(int(i) for i in self.no_emit)
        for name in ("end_id", "pad_id"):
            if not 0 <= getattr(self, name) < self.vocab_size:
                raise ValueError(f"{name} must be a token id below vocab_size {self.vocab_size}")
        if any(not 0 <= i < self.vocab_size for i in self.no_emit):
            raise ValueError(f"no_emit must hold token ids below vocab_size {self.vocab_size}, got {list(self.no_emit)}")
        if self.end_id in self.no_emit:
            raise ValueError("no_emit must not contain end_id: the model has to be able to stop")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["no_emit"] = list(self.no_emit)
        return d


class CausalSelfAttention(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.n_head = cfg.n_head
        self.qkv = nn.Linear(cfg.n_embd, 3 * cfg.n_embd)
        self.proj = nn.Linear(cfg.n_embd, cfg.n_embd)

    def forward(self, x, cache=None, pos: int = 0):
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))  # (B, nh, T, hs)
        if cache is not None:                           # cache: (k_buf, v_buf), each (B, nh, block, hs)
            cache[0][:, :, pos:pos + T] = k
            cache[1][:, :, pos:pos + T] = v
            k, v = cache[0][:, :, :pos + T], cache[1][:, :, :pos + T]   # (B, nh, pos+T, hs)
        if cache is not None and pos > 0:
            if T != 1:
                raise ValueError("a cached step after the prefill takes one token at a time")
            y = F.scaled_dot_product_attention(q, k, v)   # one query sees every cached key
        else:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.proj(y.transpose(1, 2).reshape(B, T, C))  # (B, T, C)

    def forward_past(self, x, past=None):
        """Differentiable, out-of-place variant: x (B, T, C) after ``past`` = (k, v), each (B, nh, Tp, hs),
        or None. Returns (y (B, T, C), (k, v) with the new keys appended). T must be 1 when past is given."""
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))  # (B, nh, T, hs)
        if past is not None:
            if T != 1:
                raise ValueError("forward_past after a past takes one token per row")
            k, v = torch.cat([past[0], k], dim=2), torch.cat([past[1], v], dim=2)   # (B, nh, Tp+1, hs)
            y = F.scaled_dot_product_attention(q, k, v)
        else:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.proj(y.transpose(1, 2).reshape(B, T, C)), (k, v)


class Block(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.n_embd)
        self.attn = CausalSelfAttention(cfg)
        self.ln2 = nn.LayerNorm(cfg.n_embd)
        self.mlp = nn.Sequential(nn.Linear(cfg.n_embd, 4 * cfg.n_embd), nn.GELU(), nn.Linear(4 * cfg.n_embd, cfg.n_embd))

    def forward(self, x, cache=None, pos: int = 0):
        x = x + self.attn(self.ln1(x), cache, pos)
        return x + self.mlp(self.ln2(x))

    def forward_past(self, x, past=None):
        a, kv = self.attn.forward_past(self.ln1(x), past)
        x = x + a
        return x + self.mlp(self.ln2(x)), kv


def completion_mask(completions: torch.Tensor, end_id: int) -> torch.Tensor:
    """(B, T) bool: True up to and including the first end token, False after it."""
    is_end = completions == end_id
    ended_before = (torch.cumsum(is_end.long(), dim=1) - is_end.long()) > 0
    return ~ended_before


class GPT(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.cfg = cfg
        self.wte = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.wpe = nn.Embedding(cfg.block_size, cfg.n_embd)
        self.blocks = nn.ModuleList([Block(cfg) for _ in range(cfg.n_layer)])
        self.ln_f = nn.LayerNorm(cfg.n_embd)
        emit = torch.zeros(cfg.vocab_size)
        if cfg.no_emit:
            emit[list(cfg.no_emit)] = float("-inf")
        self.register_buffer("logit_mask", emit, persistent=False)  # (V,) 0 or -inf
        self.apply(self._init)
        for name, p in self.named_parameters():          # GPT-2's scaled init of the residual projections
            if name.endswith("proj.weight") or name.endswith("mlp.2.weight"):
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * cfg.n_layer))

    @staticmethod
    def _init(m):
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, 0.02)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, 0.0, 0.02)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    # ------------------------------------------------------------------ forward
    def forward(self, idx: torch.Tensor, cache=None, pos: int = 0) -> torch.Tensor:
        """(B, T) token ids -> (B, T, V) logits, -inf on the tokens the model never emits."""
        B, T = idx.shape
        if pos + T > self.cfg.block_size:
            raise ValueError(f"sequence of {pos + T} tokens exceeds block_size {self.cfg.block_size}")
        x = self.wte(idx) + self.wpe(torch.arange(pos, pos + T, device=idx.device))  # (B, T, C)
        for i, block in enumerate(self.blocks):
            x = block(x, None if cache is None else cache[i], pos)
        x = self.ln_f(x)
        return x @ self.wte.weight.T + self.logit_mask   # (B, T, V), tied embeddings

    def forward_past(self, idx: torch.Tensor, past=None):
        """Differentiable incremental forward: (B, T) tokens after ``past`` (a list with one (k, v) per block,
        each (B, nh, Tp, hs), or None) -> ((B, T, V) logits, new past). Rows of ``past`` may be repeated
        (``repeat_interleave``) to branch a prefix into several continuations: the exact micro space
        walks its prefix tree this way (``bondlab.lm.exact``)."""
        B, T = idx.shape
        pos = 0 if past is None else past[0][0].shape[2]
        if pos + T > self.cfg.block_size:
            raise ValueError(f"sequence of {pos + T} tokens exceeds block_size {self.cfg.block_size}")
        x = self.wte(idx) + self.wpe(torch.arange(pos, pos + T, device=idx.device))  # (B, T, C)
        new = []
        for i, block in enumerate(self.blocks):
            x, kv = block.forward_past(x, None if past is None else past[i])
            new.append(kv)
        return self.ln_f(x) @ self.wte.weight.T + self.logit_mask, new   # (B, T, V)

    def _new_cache(self, B: int, dtype, device):
        hs = self.cfg.n_embd // self.cfg.n_head
        shape = (B, self.cfg.n_head, self.cfg.block_size, hs)
        return [(torch.empty(shape, dtype=dtype, device=device), torch.empty(shape, dtype=dtype, device=device))
                for _ in self.blocks]

    # ------------------------------------------------------------------ sampling
    @torch.no_grad()
    def generate(self, prompts: torch.Tensor, max_new_tokens: int, generator: torch.Generator, *,
                 temperature: float = 1.0, top_k: int | None = None, use_cache: bool = True,
                 stop_at_end: bool = True, log_probs: bool = False):
        """Sample completions of a (B, P) batch of prompts.

        Returns ``(completions, mask)``: (B, T) long ids (pad after the end token) and (B, T) bool, True on
        the tokens that count (up to and including the end token); T <= max_new_tokens. One uniform number
        per row per step is drawn from ``generator`` whether or not the cache is used, so the cached and the
        recomputing sampler give the same sequences for the same generator. ``stop_at_end=False`` keeps
        sampling past the end token (for timing only). ``log_probs=True`` adds a third result: the (B, T, V)
        next-token laws log pi(. | x, y_<t) the sampler computed on the way (at temperature 1, before top-k),
        which spares a teacher-forced pass (:func:`bondlab.lm.metrics.token_kl` takes them).
        """
        prompts = self._check_prompts(prompts)
        if not isinstance(generator, torch.Generator):
            raise ValueError(f"generator must be a torch.Generator, got {type(generator).__name__}")
        if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be a positive integer, got {max_new_tokens!r}")
        if not (temperature > 0 and math.isfinite(temperature)):
            raise ValueError(f"temperature must be a positive finite number, got {temperature!r}")
        if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
            raise ValueError(f"top_k must be None or a positive integer, got {top_k!r}")
        B, P = prompts.shape
        if P + max_new_tokens - 1 > self.cfg.block_size:
            raise ValueError(f"prompt length {P} + max_new_tokens {max_new_tokens} - 1 exceeds block_size "
                             f"{self.cfg.block_size}")
        was_training = self.training
        self.eval()
        cache = self._new_cache(B, self.wte.weight.dtype, prompts.device) if use_cache else None
        seq = prompts
        out = torch.full((B, max_new_tokens), self.cfg.pad_id, dtype=torch.long, device=prompts.device)
        done = torch.zeros(B, dtype=torch.bool, device=prompts.device)
        logits = self(prompts, cache, 0)[:, -1]                       # (B, V) prefill
        laws = []                                                     # T x (B, V) with log_probs
        t = 0
        for t in range(max_new_tokens):
            if t > 0:
                if use_cache:
                    logits = self(out[:, t - 1:t], cache, P + t - 1)[:, -1]   # (B, V) one new token
                else:
                    logits = self(seq)[:, -1]                                 # (B, V) full recomputation
            if log_probs:
                laws.append(_log_laws(logits))
            nxt = _draw(logits, temperature, top_k, generator)               # (B,)
            if stop_at_end:
                nxt = torch.where(done, torch.full_like(nxt, self.cfg.pad_id), nxt)
                done = done | (nxt == self.cfg.end_id)
            out[:, t] = nxt
            if not use_cache:
                seq = torch.cat([seq, nxt[:, None]], dim=1)
            if stop_at_end and bool(done.all()):
                break
        self.train(was_training)
        out = out[:, :t + 1]
        mask = completion_mask(out, self.cfg.end_id) if stop_at_end else torch.ones_like(out, dtype=torch.bool)
        return (out, mask, torch.stack(laws, dim=1)) if log_probs else (out, mask)     # laws: (B, T, V)

    # ------------------------------------------------------------------ log-probabilities
    def vocab_log_probs(self, prompts: torch.Tensor, completions: torch.Tensor):
        """Teacher-forced next-token laws over the whole vocabulary: ``(logp (B, T, V), mask (B, T))``, row t
        being log pi(. | x, y_<t) (-inf on the tokens never emitted). Differentiable in the parameters; the
        exact per-token KL of ``bondlab.lm.token_kl`` reads it."""
        prompts = self._check_prompts(prompts)
        if not isinstance(completions, torch.Tensor) or completions.ndim != 2 or completions.shape[0] != prompts.shape[0]:
            raise ValueError(f"completions must be a (B, T) tensor with B = {prompts.shape[0]}")
        if completions.dtype != torch.long or completions.numel() == 0:
            raise ValueError("completions must be a non-empty long tensor of token ids")
        if completions.min() < 0 or completions.max() >= self.cfg.vocab_size:
            raise ValueError(f"completions holds token ids outside [0, {self.cfg.vocab_size})")
        P = prompts.shape[1]
        logits = self(torch.cat([prompts, completions[:, :-1]], dim=1))[:, P - 1:]   # (B, T, V)
        logp = _log_laws(logits)
        return logp, completion_mask(completions, self.cfg.end_id)

    def token_log_probs(self, prompts: torch.Tensor, completions: torch.Tensor):
        """Teacher-forced log pi(y_t | x, y_<t): returns ``(logp, mask)``, both (B, T); logp is 0 where
        mask is False (after the end token). Differentiable in the parameters."""
        logp_all, mask = self.vocab_log_probs(prompts, completions)                # (B, T, V), (B, T)
        logp = torch.gather(logp_all, 2, completions[:, :, None])[:, :, 0]    # (B, T)
        logp = torch.where(mask, logp, torch.zeros_like(logp))
        if torch.isneginf(logp).any():
            raise ValueError("completions contain a token the model never emits (pad or bos before the end token)")
        return logp, mask

    def sequence_log_probs(self, prompts: torch.Tensor, completions: torch.Tensor) -> torch.Tensor:
        """(B,) log pi(y | x) = sum of the unmasked token log-probs. Differentiable."""
        return self.token_log_probs(prompts, completions)[0].sum(dim=1)

    def _check_prompts(self, prompts) -> torch.Tensor:
        if not isinstance(prompts, torch.Tensor) or prompts.ndim != 2 or prompts.dtype != torch.long:
            raise ValueError("prompts must be a (B, P) long tensor of token ids (use the tokenizer's encode_prompts)")
        if prompts.shape[0] == 0 or prompts.shape[1] == 0:
            raise ValueError(f"prompts must be non-empty, got shape {tuple(prompts.shape)}")
        if prompts.min() < 0 or prompts.max() >= self.cfg.vocab_size:
            raise ValueError(f"prompts hold token ids outside [0, {self.cfg.vocab_size})")
        return prompts


def _log_laws(logits: torch.Tensor) -> torch.Tensor:
    """log_softmax over the vocabulary (last axis), in float32 at least (half-precision logits are widened)."""
    return F.log_softmax(logits.float() if logits.dtype == torch.float16 else logits, dim=-1)


def _draw(logits: torch.Tensor, temperature: float, top_k, generator: torch.Generator) -> torch.Tensor:
    """One draw per row by inverse CDF on a single uniform number (B,) -> (B,) token ids."""
    logits = logits.double() / temperature                                    # (B, V)
    if top_k is not None and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]
        logits = torch.where(logits < kth, torch.full_like(logits, float("-inf")), logits)
    cdf = torch.cumsum(torch.softmax(logits, dim=-1), dim=-1)                 # (B, V)
    u = torch.rand(logits.shape[0], 1, generator=generator, dtype=torch.float64, device=logits.device) * cdf[:, -1:]
    idx = torch.searchsorted(cdf, u, right=True)[:, 0]
    # never land on a zero-probability token (u at the very top of the CDF)
    return torch.minimum(idx, (cdf < cdf[:, -1:]).sum(-1))
