"""HFPolicy: any Hugging Face causal LM + tokenizer behind the policy interface the J-BOND trainer uses.

    policy.sample(prompts, generator)         -> (completions (B, T) long, mask (B, T) bool)
    policy.log_prob(prompts, completions)     -> (B,) log pi(y | x), differentiable
    policy.token_log_probs(prompts, completions) -> ((B, T) log pi(y_t | x, y_<t), (B, T) mask)
    policy.texts(prompts, completions)        -> B strings for the reward
    policy.anchor()                           -> a frozen deep copy (the reference / EMA anchor)
    policy.ema_update_(source, eta)           -> theta <- (1 - eta) theta + eta theta_source

the same as :class:`bondlab.lm.LMPolicy` for the tiny GPT. A completion counts up to and including its
first end-of-sequence token; what follows (padding) is masked out.

Sampling. ``model.generate(do_sample=True, top_k=0, top_p=1.0, temperature=1.0)`` draws from the full
softmax at temperature 1 but takes no ``torch.Generator``. :meth:`HFPolicy.sample` draws from the same
distribution token by token with a KV cache (a ``transformers.DynamicCache`` made here and handed to
the forward as ``cache``, or ``past_key_values`` before transformers 5.24), by inverse CDF on
uniform numbers taken from the generator up front: a (B, max_new_tokens) block per call, however early
the rows end. Same generator state, same completions; and a data-parallel run can hand each process its
rows of one global draw (``bondlab.hf.train.ShardedUniforms``), so two processes sample exactly what one
process would over the same global batch.

Prompts of different lengths are left-padded, with an attention mask and position ids counted from each
row's first real token, so padding changes nothing but float rounding. A prompt plus ``max_new_tokens``
that would run past the model's positions (``config.max_position_embeddings``) is refused with a
ValueError before any work. Dropout: call ``model.eval()``
(``from_pretrained`` does); the J-BOND trainer keeps dropout off, so the log-probs it trains are those of
the distribution it samples.
"""
from __future__ import annotations

import copy
import inspect

import torch
import torch.nn.functional as F

from ..anchor import ema_
from ..lm.model import completion_mask

__all__ = ["HFPolicy", "require_hf", "uniforms"]


def require_hf():
    """Import transformers, or say how to get it."""
    try:
        import transformers
    except ImportError as e:  # pragma: no cover - only without the extra
        raise ImportError("bondlab.hf needs the optional extra: pip install 'bondlab[hf]' "
                          "(transformers, accelerate)") from e
    return transformers


def dtype_kw(dtype) -> dict:
    """from_pretrained's dtype argument: ``dtype`` from transformers 4.56 on, ``torch_dtype`` before."""
    if dtype is None:
        return {}
    from packaging.version import Version
    new = Version(require_hf().__version__) >= Version("4.56")
    return {"dtype" if new else "torch_dtype": dtype}


def uniforms(generator, n: int, t: int) -> torch.Tensor:
    """(n, t) float64 uniform numbers: from a ``torch.Generator``, or from any object with ``rand(n, t)``."""
    if isinstance(generator, torch.Generator):
        return torch.rand(n, t, generator=generator, dtype=torch.float64)
    if hasattr(generator, "rand"):
        u = generator.rand(n, t)
        if not isinstance(u, torch.Tensor) or tuple(u.shape) != (n, t):
            raise ValueError(f"generator.rand({n}, {t}) must return a ({n}, {t}) tensor")
        return u.to(torch.float64)
    raise ValueError(f"generator must be a torch.Generator (or have rand(n, t)), got {type(generator).__name__}")


def draw(logits: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """(B, V) logits, (B,) uniforms -> (B,) token ids by inverse CDF of softmax(logits) (temperature 1,
    no top-k, no top-p: the full distribution)."""
    cdf = torch.cumsum(torch.softmax(logits.double(), dim=-1), dim=-1)              # (B, V)
    idx = torch.searchsorted(cdf, (u.to(cdf.device) * cdf[:, -1])[:, None], right=True)[:, 0]
    return torch.minimum(idx, (cdf < cdf[:, -1:]).sum(-1))       # never a zero-probability token


def _unwrap(model):
    return getattr(model, "module", model)   # a DistributedDataParallel wrapper holds the model in .module


def cache_kw(model) -> str:
    """The forward's name for the KV cache: ``cache`` where the model takes it (transformers 5.24 on),
    else ``past_key_values`` (deprecated from 5.24, removed in 5.40)."""
    return "cache" if "cache" in inspect.signature(_unwrap(model).forward).parameters else "past_key_values"


def new_cache(model):
    """An empty ``transformers.DynamicCache`` for ``model`` (built from its config where the class takes
    one, transformers 4.56 on: sliding-window layers get their own kind of cache). The forward fills it
    in place."""
    from transformers import DynamicCache
    if "config" in inspect.signature(DynamicCache.__init__).parameters:
        return DynamicCache(config=_unwrap(model).config)
    return DynamicCache()


def position_limit(model) -> int | None:
    """The number of positions the model has (``config.max_position_embeddings``: GPT-2's ``n_positions``),
    or None when its config does not say."""
    n = getattr(getattr(_unwrap(model), "config", None), "max_position_embeddings", None)
    return n if isinstance(n, int) and not isinstance(n, bool) and n > 0 else None


class HFPolicy:
    """A causal LM (``AutoModelForCausalLM``, or its DDP wrapper) and its tokenizer, speaking prompt texts."""

    def __init__(self, model, tokenizer, max_new_tokens: int = 64):
        if not isinstance(model, torch.nn.Module):
            raise ValueError(f"model must be a torch.nn.Module (a transformers causal LM), got {type(model).__name__}")
        if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be a positive integer, got {max_new_tokens!r}")
        if getattr(tokenizer, "eos_token_id", None) is None:
            raise ValueError("tokenizer must have an eos_token_id (completions end with it)")
        self.model = model
        self.tokenizer = tokenizer
        self.max_new_tokens = max_new_tokens
        self.eos_id = int(tokenizer.eos_token_id)
        pad = getattr(tokenizer, "pad_token_id", None)
        self._pad_id = self.eos_id if pad is None else int(pad)   # after the first eos, the pad value is masked

    @classmethod
    def from_pretrained(cls, path, max_new_tokens: int = 64, *, dtype=None, device=None) -> "HFPolicy":
        """Load a model and tokenizer from a local folder (nothing is downloaded), in eval mode."""
        transformers = require_hf()
        kw = {"local_files_only": True, **dtype_kw(dtype)}
        try:
            model = transformers.AutoModelForCausalLM.from_pretrained(str(path), **kw)
            tok = transformers.AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        except OSError as e:
            raise ValueError(f"model {path!r} is not a local Hugging Face model folder: {e}") from None
        if device is not None:
            model.to(device)
        return cls(model.eval(), tok, max_new_tokens)

    @property
    def pad_id(self) -> int:
        """The id that pads completions after the end token (the tokenizer's pad token, else eos)."""
        return self._pad_id

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def parameters(self):
        return self.model.parameters()

    # ---------------------------------------------------------------------------------------- prompts
    def encode(self, prompts) -> list[list[int]]:
        """Token ids of each prompt; the tokenizer's BOS token first when it has one (GPT-2 adds none itself)."""
        if isinstance(prompts, str) or len(prompts) == 0:
            raise ValueError("prompts must be a non-empty list of strings")
        bos = getattr(self.tokenizer, "bos_token_id", None)
        out = []
        for p in prompts:
            if not isinstance(p, str):
                raise ValueError(f"prompts must hold strings, found {type(p).__name__}")
            ids = list(self.tokenizer(p, add_special_tokens=True)["input_ids"])
            if bos is not None and (not ids or ids[0] != bos):
                ids = [int(bos)] + ids
            if not ids:
                raise ValueError(f"prompt {p!r} encodes to no tokens and the tokenizer has no BOS token")
            out.append(ids)
        return out

    def check_fits(self, prompts, n_tokens: int | None = None, name: str = "max_new_tokens") -> None:
        """ValueError naming ``name`` and the limit unless the longest prompt plus ``n_tokens`` (default
        ``max_new_tokens``) completion tokens fit the model's positions (the last token is never fed)."""
        self._fit(self.encode(prompts), self.max_new_tokens if n_tokens is None else n_tokens, name)

    def _fit(self, ids: list[list[int]], n: int, name: str) -> None:
        limit, P = position_limit(self.model), max(len(r) for r in ids)
        if limit is not None and P + n - 1 > limit:
            raise ValueError(f"{name} ({n}) is too large for the model: the longest prompt has {P} tokens, and "
                             f"{P} + {n} - 1 exceeds its {limit} positions (config.max_position_embeddings); "
                             f"at most {limit - P + 1} fit")

    def _left_pad(self, ids: list[list[int]]):
        """((B, P) ids, (B, P) attention mask) with every row left-padded to the longest."""
        P = max(len(r) for r in ids)
        x = torch.full((len(ids), P), self.pad_id, dtype=torch.long)
        m = torch.zeros((len(ids), P), dtype=torch.long)
        for i, r in enumerate(ids):
            x[i, P - len(r):] = torch.tensor(r, dtype=torch.long)
            m[i, P - len(r):] = 1
        return x.to(self.device), m.to(self.device)

    @staticmethod
    def _positions(mask: torch.Tensor) -> torch.Tensor:
        return (mask.cumsum(1) - 1).clamp(min=0)                                      # (B, L)

    # ---------------------------------------------------------------------------------------- sampling
    @torch.no_grad()
    def sample(self, prompts, generator, *, use_cache: bool = True):
        """One completion per prompt: ((B, T) long ids, (B, T) bool mask), T <= max_new_tokens, pad after
        the first eos. ``use_cache=False`` recomputes the whole prefix at each step (same tokens, slower;
        for testing the cache)."""
        ids = self.encode(prompts)
        self._fit(ids, self.max_new_tokens, "max_new_tokens")
        x, am = self._left_pad(ids)                                                    # (B, P)
        B, Tm = x.shape[0], self.max_new_tokens
        u = uniforms(generator, B, Tm)                                                 # (B, Tm)
        out = torch.full((B, Tm), self.pad_id, dtype=torch.long, device=x.device)
        done = torch.zeros(B, dtype=torch.bool, device=x.device)
        model = _unwrap(self.model)
        kv = {cache_kw(model): new_cache(model)} if use_cache else {}                  # filled in place
        res = model(input_ids=x, attention_mask=am, position_ids=self._positions(am), use_cache=use_cache, **kv)
        t = 0
        for t in range(Tm):
            nxt = draw(res.logits[:, -1], u[:, t])                                       # (B,)
            nxt = torch.where(done, torch.full_like(nxt, self.pad_id), nxt)
            done = done | (nxt == self.eos_id)
            out[:, t] = nxt
            if bool(done.all()) or t == Tm - 1:
                break
            am = torch.cat([am, torch.ones_like(am[:, :1])], dim=1)                     # (B, P+t+1)
            pos = self._positions(am)
            if use_cache:
                res = model(input_ids=nxt[:, None], attention_mask=am, position_ids=pos[:, -1:],
                            use_cache=True, **kv)
            else:
                seq = torch.cat([x, out[:, :t + 1]], dim=1)
                res = model(input_ids=seq, attention_mask=am, position_ids=pos, use_cache=False)
        out = out[:, :t + 1]
        return out, completion_mask(out, self.eos_id)

    # ---------------------------------------------------------------------------------------- scoring
    def _check(self, prompts, completions):
        if not isinstance(completions, torch.Tensor) or completions.ndim != 2 or completions.shape[0] != len(prompts):
            raise ValueError(f"completions must be a (B, T) tensor with B = {len(prompts)} prompts")
        if completions.dtype != torch.long or completions.numel() == 0:
            raise ValueError("completions must be a non-empty long tensor of token ids")

    def token_logits(self, prompts, completions: torch.Tensor):
        """Teacher-forced ((B, T, V) logits of each completion token's distribution, (B, T) mask)."""
        self._check(prompts, completions)
        ids = self.encode(prompts)
        self._fit(ids, completions.shape[1], "completions")
        x, am = self._left_pad(ids)                                                    # (B, P)
        y = completions.to(x.device)
        P, T = x.shape[1], y.shape[1]
        seq = torch.cat([x, y[:, :-1]], dim=1)                                        # (B, P+T-1)
        full = torch.cat([am, torch.ones_like(y[:, :-1])], dim=1)                     # (B, P+T-1)
        logits = self.model(input_ids=seq, attention_mask=full, position_ids=self._positions(full),
                            use_cache=False).logits[:, P - 1:]                        # (B, T, V)
        return logits, completion_mask(y, self.eos_id)

    def token_log_probs(self, prompts, completions: torch.Tensor):
        """((B, T) log pi(y_t | x, y_<t), 0 after the first eos; (B, T) mask). Differentiable."""
        logits, mask = self.token_logits(prompts, completions)
        y = completions.to(logits.device)
        logp = torch.gather(F.log_softmax(logits.float(), dim=-1), 2, y[:, :, None])[:, :, 0]   # (B, T)
        return torch.where(mask, logp, torch.zeros_like(logp)), mask

    def log_prob(self, prompts, completions: torch.Tensor) -> torch.Tensor:
        """(B,) log pi(y | x), the completion counted up to and including its first eos. Differentiable."""
        return self.token_log_probs(prompts, completions)[0].sum(dim=1)

    def texts(self, prompts, completions: torch.Tensor) -> list[str]:
        """Prompt and completion (up to the first eos) decoded together: what the reward reads."""
        self._check(prompts, completions)
        bos = getattr(self.tokenizer, "bos_token_id", None)
        out = []
        for ids, y, m in zip(self.encode(prompts), completions.tolist(), completion_mask(completions, self.eos_id).tolist()):
            ids = ids[1:] if bos is not None and ids and ids[0] == bos else ids
            y = [t for t, keep in zip(y, m) if keep and t != self.eos_id]
            out.append(self.tokenizer.decode(ids + y, skip_special_tokens=True).strip())
        return out

    # ---------------------------------------------------------------------------------------- anchor
    def anchor(self) -> "HFPolicy":
        """A frozen deep copy (of the model inside a DDP wrapper): gradients off, eval mode."""
        model = copy.deepcopy(_unwrap(self.model)).eval()
        for p in model.parameters():
            p.requires_grad_(False)
        return HFPolicy(model, self.tokenizer, self.max_new_tokens)

    def ema_update_(self, source: "HFPolicy", eta: float) -> "HFPolicy":
        """theta_anchor <- (1 - eta) theta_anchor + eta theta_source (J-BOND's anchor, Sessa et al. 2024
        Sec. 5, Alg. 2): :func:`bondlab.anchor.ema_`, the update every trainer uses."""
        ema_(_unwrap(self.model), _unwrap(source.model), eta)
        return self
