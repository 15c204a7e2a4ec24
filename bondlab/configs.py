"""One config per algorithm, at every scale (TRL style): a ``@dataclass`` whose fields carry their help text
and the values they accept, checked in ``__post_init__`` and nowhere else.

    param(default, help, range=Range(...) | choices=(...) | kind=bool, optional=False)

The command line is generated from these fields (:mod:`bondlab.commands._from_config`): each field is a flag,
its help is the field's ``help``, and the flag's parser is the same :class:`Range` that ``__post_init__``
applies, so the two can never disagree.

    BondConfig          toy BOND (forward / backward / Jeffreys) against Best-of-N(pi_ref)     bondlab.train
    IterativeConfig     toy iterative BOND, Best-of-n of a moving anchor                       bondlab.jbond
    JBondParams         what J-BOND is at any scale: beta, gamma, eta, the anchor, lr, seed
      ToyJBondConfig    + the toy table's family, gradient, batch, steps                       bondlab.jbond
      JBondConfig       + the stop rule, prompts per step, warm-up, lengths (tiny GPT)         bondlab.lm.jbond
        HFJBondConfig   + evaluation sizes and checkpoints (Hugging Face, data-parallel)       bondlab.hf.train
    ReinforceParams     the RLHF baseline at any scale: beta_RL, lr, seed
      ToyReinforceConfig                                                                       bondlab.train
      ReinforceConfig   tiny GPT (samples per prompt, the budget)                              bondlab.lm.reinforce
"""
from __future__ import annotations

import math
from dataclasses import MISSING, dataclass, field, fields

__all__ = ["Range", "param", "check_fields", "objective_beta", "quantile_target", "OBJECTIVES", "ANCHORS",
           "FAMILIES", "GRADIENTS", "QUANTILES", "BondConfig", "IterativeConfig", "JBondParams", "ToyJBondConfig",
           "JBondConfig", "HFJBondConfig", "ReinforceParams", "ToyReinforceConfig", "ReinforceConfig"]

OBJECTIVES = ("jeffreys", "forward", "backward")
ANCHORS = ("ema", "hard")
KLS = ("sample", "exact")            # how the KL parts are estimated along a sampled sequence
PAIRS = ("first", "all")             # which anchor pairs J-BOND's reward and SFT term read
# the variance options the recommended J-BOND and REINFORCE share: K samples per prompt, the exact token KL,
# and prompts per step (K x prompts = 64 policy samples, as the default J-BOND's 64 prompts)
LOW_VARIANCE = {"samples_per_prompt": 4, "kl": "exact", "batch_prompts": 16}
FAMILIES = ("tabular", "gaussian")
GRADIENTS = ("exact", "sampled")
QUANTILES = ("exact", "mc", "learned")


class Range:
    """The numbers a field accepts: whole or real, lowest and highest value, open or closed ends (NaN, inf and
    bools are never numbers here)."""

    def __init__(self, whole: bool, lo=None, hi=None, *, lo_open: bool = False, hi_open: bool = False):
        self.whole, self.lo, self.hi, self.lo_open, self.hi_open = whole, lo, hi, lo_open, hi_open

    def contains(self, v: float) -> bool:
        """Whether the finite number ``v`` lies in the range."""
        if self.whole and v != int(v):
            return False
        if self.lo is not None and (v < self.lo or (self.lo_open and v == self.lo)):
            return False
        return self.hi is None or not (v > self.hi or (self.hi_open and v == self.hi))

    def describe(self) -> str:
        what = "a whole number" if self.whole else "a number"
        lo, hi = _fmt(self.lo), _fmt(self.hi)
        if self.lo is not None and self.hi is not None:
            return f"{what} in {'(' if self.lo_open else '['}{lo}, {hi}{')' if self.hi_open else ']'}"
        if self.lo is not None:
            return f"{what} {'>' if self.lo_open else '>='} {lo}"
        if self.hi is not None:
            return f"{what} {'<' if self.hi_open else '<='} {hi}"
        return f"a finite {what[2:]}"

    def check(self, name: str, v):
        """``v`` as an int or float if it lies in the range, else a ValueError naming ``name``."""
        bad = ValueError(f"{name} must be {self.describe()}, got {v!r}"[:200])
        if isinstance(v, bool) or not isinstance(v, (int, float)) and not hasattr(v, "__float__"):
            raise bad
        try:
            x = float(v)
        except (TypeError, ValueError, OverflowError):
            raise bad from None
        if not math.isfinite(x) or not self.contains(x):
            raise bad
        return int(x) if self.whole else x


def _fmt(x) -> str:
    return str(int(x)) if x is not None and float(x).is_integer() else f"{x}"


def whole(lo=1, hi=None) -> Range:
    return Range(True, lo, hi)


def real(lo=None, hi=None, **ends) -> Range:
    return Range(False, lo, hi, **ends)


UNIT = real(0, 1)                    # [0, 1]
POSITIVE = real(0, lo_open=True)     # > 0
SEED = whole(0, 2**32 - 1)           # numpy and torch both take any seed in [0, 2^32 - 1]


def param(default=MISSING, help: str = "", *, range: Range | None = None, choices: tuple | None = None,
          kind=None, optional: bool = False, **kw):
    """A dataclass field with its help text and the values it accepts (``optional``: None too)."""
    meta = {"help": help, "range": range, "choices": choices, "kind": kind, "optional": optional}
    return field(default=default, metadata=meta, **kw)


def check_fields(cfg) -> None:
    """Check and coerce every field of ``cfg`` against its declaration (ValueError naming the field)."""
    for f in fields(cfg):
        m, v = f.metadata, getattr(cfg, f.name)
        if not m or (v is None and m.get("optional")):
            continue
        if m.get("range") is not None:   # object.__setattr__: a frozen dataclass is checked the same way
            object.__setattr__(cfg, f.name, m["range"].check(f.name, v))
        elif m.get("choices") is not None and v not in m["choices"]:
            raise ValueError(f"{f.name} must be one of {m['choices']}, got {v!r}"[:200])
        elif m.get("kind") is bool and not isinstance(v, bool):
            raise ValueError(f"{f.name} must be True or False, got {v!r}"[:200])


def objective_beta(objective: str, beta: float) -> float:
    """The Jeffreys weight an objective uses: forward 0, backward 1, jeffreys ``beta``."""
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
    return {"forward": 0.0, "backward": 1.0}.get(objective, UNIT.check("beta", beta))


def quantile_target(n: float) -> float:
    """N/(N+1): E[p_le] under Best-of-N for continuous rewards (Sessa et al. 2024, Sec. 3)."""
    n = real(1).check("target_n", n)
    return n / (n + 1)


def _sampled_n(cfg) -> None:
    """N must be whole when the target is sampled (Best-of-N draws N candidates)."""
    if cfg.gradient == "sampled":
        cfg.n = whole(1).check("n", cfg.n)


# ------------------------------------------------------------------------------------------------ toy BOND
@dataclass
class BondConfig:
    objective: str = param("jeffreys", "forward (SFT on Best-of-N samples), backward (policy gradient) or jeffreys",
                           choices=OBJECTIVES)
    beta: float = param(0.5, "Jeffreys weight on the backward KL (paper: 0.5); forward/backward fix it", range=UNIT)
    n: float = param(4, "N of the Best-of-N target (whole when sampled)", range=real(1))
    family: str = param("tabular", "policy family: tabular (any law) or gaussian (unimodal)", choices=FAMILIES)
    gradient: str = param("exact", "exact (expectation over the space) or sampled (the paper's estimators)",
                          choices=GRADIENTS)
    quantile: str = param("mc", "sampled backward term's p_le: exact, mc (k samples) or learned (App. B.1)",
                          choices=QUANTILES)
    k: int = param(16, "reference samples per step for the Monte Carlo quantile (paper: 16)", range=whole())
    batch: int = param(64, "samples per step for each sampled term", range=whole())
    steps: int = param(400, "optimiser steps", range=whole())
    lr: float = param(0.05, "Adam learning rate", range=POSITIVE)
    seed: int = param(0, "seeds numpy (reference / BoN samples) and torch (policy samples)", range=SEED)

    def __post_init__(self):
        check_fields(self)
        _sampled_n(self)


@dataclass
class IterativeConfig:
    n: float = param(2, "Best-of-n of the anchor per round (paper: 2 is enough)", range=real(1))
    rounds: int = param(4, "M, the number of anchor moves (hard mode: the target reaches n^M)", range=whole())
    period: int = param(150, "T, optimiser steps per round (hard anchor reset every T steps)", range=whole())
    eta: float = param(0.0, "EMA rate of the anchor; 0 means hard resets every period steps", range=UNIT)
    objective: str = param("jeffreys", "forward, backward or jeffreys", choices=OBJECTIVES)
    beta: float = param(0.5, "Jeffreys weight on the backward KL", range=UNIT)
    family: str = param("tabular", "policy family: tabular or gaussian", choices=FAMILIES)
    gradient: str = param("exact", "exact or sampled", choices=GRADIENTS)
    quantile: str = param("mc", "sampled backward term's p_le: exact or mc (k anchor samples)",
                          choices=QUANTILES[:2])
    k: int = param(16, "anchor samples per step for the Monte Carlo quantile", range=whole())
    batch: int = param(64, "samples per step for each sampled term", range=whole())
    lr: float = param(0.05, "Adam learning rate", range=POSITIVE)
    seed: int = param(0, "seeds numpy and torch generators", range=SEED)

    def __post_init__(self):
        if self.quantile == "learned":
            raise ValueError("quantile 'learned' is supported by train_bond only (the model would be refit per anchor)")
        check_fields(self)
        _sampled_n(self)


# ------------------------------------------------------------------------------------------------ J-BOND
@dataclass
class JBondParams:
    """What J-BOND is at any scale (Sessa et al. 2024, Sec. 5, Algorithm 2)."""
    beta: float = param(0.5, "Jeffreys mixing: (1 - beta) forward + beta backward (paper: 0.5)", range=UNIT)
    gamma: float = param(0.0, "extra regulariser gamma KL(pi || pi_anchor) (paper: 0-2)", range=real(0))
    eta: float = param(0.05, "EMA anchor rate (paper: 0.02 for Gemma 7B, 0.01-0.1 tried)", range=UNIT)
    anchor: str = param("ema", "ema (moving anchor) or hard (replaced every hard_period steps)", choices=ANCHORS)
    hard_period: int = param(50, "T: steps between anchor replacements with anchor hard", range=whole())
    objective: str = param("jeffreys", "jeffreys (uses beta), forward (beta = 0) or backward (beta = 1)",
                           choices=OBJECTIVES)
    v1_sign: bool = param(False, "flip the regulariser to arXiv v1's printed sign (raises the KL)", kind=bool)
    lr: float = param(3e-4, "Adam learning rate (after warm-up)", range=POSITIVE)
    seed: int = param(0, "seeds the training samples (torch.Generator)", range=SEED)

    def __post_init__(self):
        check_fields(self)

    @property
    def effective_beta(self) -> float:
        return objective_beta(self.objective, self.beta)


@dataclass
class ToyJBondConfig(JBondParams):
    """J-BOND on a toy table: exact metrics after every step, ``steps`` steps."""
    lr: float = param(0.05, "Adam learning rate", range=POSITIVE)
    family: str = param("tabular", "policy family: tabular or gaussian", choices=FAMILIES)
    gradient: str = param("sampled", "sampled (Algorithm 2) or exact (its expectation, anchor held fixed)",
                          choices=GRADIENTS)
    batch: int = param(64, "prompts per step: one policy sample and two anchor samples each", range=whole())
    steps: int = param(400, "optimiser steps", range=whole())

    def __post_init__(self):
        check_fields(self)
        if self.gradient == "sampled" and self.batch < 2:
            raise ValueError("batch must be >= 2 for the leave-one-out baseline")


@dataclass
class JBondConfig(JBondParams):
    """J-BOND on sequences (tiny GPT); the stop rule: quantile N/(N+1) or the KL budget."""
    target_n: float = param(8.0, "stop when the mean reference quantile reaches N/(N+1); N >= 2 (Best-of-1 is pi_ref)",
                            range=real(2))
    kl_budget: float = param(10.0, "second stop: KL(pi || pi_ref) in nats per sequence", range=real(0))
    keep_going: bool = param(False, "ignore both stops and run max_steps (shows over-optimization)", kind=bool)
    max_steps: int = param(400, "hard cap on optimizer steps", range=whole())
    batch_prompts: int = param(64, "prompts per step (one policy sample, two anchor samples each), >= 2",
                               range=whole(2))
    warmup: int = param(10, "linear learning-rate warm-up steps (paper: 100 at Gemma scale)", range=whole(0))
    max_new_tokens: int = param(24, "completion length limit in tokens", range=whole())
    eval_every: int = param(10, "steps between evaluations (and stop checks)", range=whole())
    # the lower-variance options (bondlab.lm.jbond_groups); the defaults are Algorithm 2 as printed
    samples_per_prompt: int = param(1, "K policy samples (and 2K anchor samples) per prompt; K >= 2 takes the "
                                       "leave-one-out baseline per prompt", range=whole())
    kl: str = param("sample", "the KL parts (backward reward's log-ratio, gamma term): sample (the sequence's "
                              "log-ratio) or exact (over the vocabulary at each sampled prefix)", choices=KLS)
    pairs: str = param("first", "anchor pairs read by the reward and the SFT term: first (pair i for sample i) or "
                                "all (every pair of the prompt's 2K anchor samples)", choices=PAIRS)

    def __post_init__(self):
        check_fields(self)
        if self.v1_sign and not self.plain:
            raise ValueError("v1_sign is an ablation of Algorithm 2 as printed: use it with samples_per_prompt 1, "
                             "kl 'sample' and pairs 'first'")

    @property
    def plain(self) -> bool:
        """Whether the step is Algorithm 2 as printed (no variance option on)."""
        return (self.samples_per_prompt, self.kl, self.pairs) == (1, "sample", "first")

    @classmethod
    def recommended(cls, **kw) -> "JBondConfig":
        """The lower-variance setting the demo uses, chosen from ``benchmarks/bench_jbond_front.py``'s grid
        (docs/theory/jbond.md): K = 4 samples per prompt, every anchor pair, the exact per-prefix KL, 16
        prompts a step (64 policy samples, as the default's 64 prompts), a slower anchor (eta 0.015) with a
        larger step (lr 6e-4) and beta 0.25. ``kw`` overrides fields."""
        return cls(**{**LOW_VARIANCE, "pairs": "all", "eta": 0.015, "lr": 6e-4, "beta": 0.25, **kw})


@dataclass
class HFJBondConfig(JBondConfig):
    """J-BOND at scale: the defaults follow the paper's Gemma runs (Sec. 6) where it states them."""
    max_steps: int = param(1000, "hard cap on optimizer steps", range=whole())
    batch_prompts: int = param(128, "GLOBAL prompts per step, split over the processes (paper: 128)", range=whole(2))
    lr: float = param(3e-6, "Adam learning rate after warm-up (paper: 3e-6)", range=POSITIVE)
    warmup: int = param(100, "linear warm-up steps (paper: 100)", range=whole(0))
    eta: float = param(0.02, "EMA anchor rate (paper: 0.02 for Gemma 7B)", range=UNIT)
    max_new_tokens: int = param(64, "completion length limit in tokens, below the model's positions", range=whole())
    eval_every: int = param(50, "steps between evaluations (and stop checks)", range=whole())
    eval_prompts: int = param(64, "GLOBAL evaluation prompts (the pool cycled), one policy sample each",
                              range=whole())
    ref_samples: int = param(16, "pi_ref samples per evaluation prompt for the quantile p_hat_le", range=whole())
    checkpoint_every: int = param(50, "steps between checkpoints (and one at the end)", range=whole())

    def __post_init__(self):
        check_fields(self)
        if not self.plain:   # the grouped step reads full next-token laws and has no cross-process gather yet
            raise ValueError("samples_per_prompt, kl and pairs keep their defaults (1, 'sample', 'first') at "
                             "Hugging Face scale: the lower-variance step runs on the tiny GPT only")


# ------------------------------------------------------------------------------------------------ REINFORCE
@dataclass
class ReinforceParams:
    """The RLHF baseline at any scale: maximise E[r] - beta_RL KL(pi || pi_ref) by REINFORCE."""
    beta_rl: float = param(0.1, "KL penalty weight to pi_ref (the paper sweeps 0.001-1)", range=real(0))
    lr: float = param(3e-4, "Adam learning rate (after warm-up)", range=POSITIVE)
    seed: int = param(0, "seeds the training samples (torch.Generator)", range=SEED)

    def __post_init__(self):
        check_fields(self)


@dataclass
class ToyReinforceConfig(ReinforceParams):
    lr: float = param(0.05, "Adam learning rate", range=POSITIVE)
    family: str = param("tabular", "policy family: tabular or gaussian", choices=FAMILIES)
    gradient: str = param("sampled", "sampled (REINFORCE, leave-one-out baseline) or exact", choices=GRADIENTS)
    batch: int = param(64, "policy samples per step", range=whole())
    steps: int = param(400, "optimiser steps", range=whole())


@dataclass
class ReinforceConfig(ReinforceParams):
    max_steps: int = param(400, "cap on optimizer steps", range=whole())
    budget_s: float | None = param(None, "stop once this many seconds of training are spent (None: steps only)",
                                   range=POSITIVE, optional=True)
    batch_prompts: int = param(32, "prompts per step", range=whole())
    samples_per_prompt: int = param(2, "k samples per prompt; the leave-one-out baseline runs over them, >= 2",
                                    range=whole(2))
    warmup: int = param(10, "linear learning-rate warm-up steps", range=whole(0))
    kl_budget: float | None = param(None, "optional stop when KL(pi || pi_ref) exceeds it", range=POSITIVE,
                                    optional=True)
    max_new_tokens: int = param(24, "completion length limit in tokens", range=whole())
    eval_every: int = param(10, "steps between evaluations", range=whole())
    kl: str = param("sample", "the KL penalty's estimate: sample (the sequence's log-ratio) or exact (over the "
                              "vocabulary at each sampled prefix)", choices=KLS)

    @classmethod
    def recommended(cls, **kw) -> "ReinforceConfig":
        """REINFORCE with the variance options J-BOND's :meth:`JBondConfig.recommended` takes (the fair
        comparison): K = 4 samples per prompt (per-prompt leave-one-out baseline), the exact per-prefix KL, 16
        prompts a step. ``kw`` overrides fields."""
        return cls(**{**LOW_VARIANCE, **kw})
