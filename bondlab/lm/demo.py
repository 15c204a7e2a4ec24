"""``bondlab demo``: J-BOND vs Best-of-N vs REINFORCE on the shipped tiny GPT, in a few minutes on a CPU.

The pipeline (Sessa et al. 2024, Sec. 6, at toy scale):
1. pi_ref = the shipped review GPT; gold reward VADER, proxy reward a bag-of-words Bradley-Terry model.
   A pool of k pi_ref samples per prompt opening fixes the reference CDF of the quantiles.
2. Best-of-N from pi_ref on the evaluation prompts, N = 1 (``ref``), 2, 4, 8, 16: one set of 16 candidates
   per prompt, Best-of-N keeps the best of the first N. Its KL is the analytic log N - (N-1)/N.
3. J-BOND from pi_ref until its mean reference quantile reaches N/(N+1) for the target N (or the KL budget).
4. REINFORCE (leave-one-out, KL penalty beta_RL in {0.01, 0.1, 1}) from pi_ref, each with the wall-clock
   training budget J-BOND used (``budget="wall"``) or the same number of steps (``budget="steps"``, the
   deterministic choice: same seed, same numbers).
5. Optional ``exact``: the same J-BOND on the micro GPT with a hard anchor, where the exact KL to
   Best-of-2^m(pi_ref) over every sequence is tracked across anchor updates.

The run is data: :func:`plan` turns a :class:`DemoConfig` into a tuple of frozen :class:`Stage` records (name,
kind, the algorithm's config derived with ``dataclasses.replace``; beta_RL lives in each REINFORCE config), and
``run_demo`` hands each stage to the runner of its kind. ``run_demo`` returns plain data (the JSON the command
writes) plus the trained policies; :mod:`bondlab.lm.demo_report` prints the table and saves the figures.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import torch
from tqdm.auto import tqdm

from .. import _validate as V
from ..theory import bon_kl_bound
from .corpus import PROMPT_OPENINGS
from .demo_exact import run_exact
from .demo_report import best_reward_within, format_table, front_table, write_outputs
from .jbond import JBondConfig, quantile_target, text_reward, train_jbond
from .metrics import EVAL_KEYS, evaluate, quantile_against, ref_pool, score, texts_of
from .reinforce import ReinforceConfig, train_reinforce

__all__ = ["DemoConfig", "DemoResult", "Stage", "plan", "reinforce_budget", "run_demo", "run_exact",
           "format_table", "front_table", "best_reward_within", "write_outputs", "METHOD_KEYS", "BON_NS", "BETA_RLS"]

METHOD_KEYS = ("reward", "kl", "quantile", "wall_s", "samples_per_prompt")
BON_NS = (2, 4, 8, 16)
BETA_RLS = (0.01, 0.1, 1.0)
HISTORY_KEYS = ("step", "wall_s", "loss") + EVAL_KEYS


@dataclass
class DemoConfig:
    target_n: float = 8.0          # J-BOND stops when E[p_le] reaches target_n / (target_n + 1)
    smoke: bool = False            # a quick run: fewer prompts, steps and samples (for tests and CI)
    keep_going: bool = False       # J-BOND runs past its stop for keep_going_steps more steps
    keep_going_steps: int = 500    # extra steps with keep_going; measured: KL 20 nats at +300, the end token lost at +400-450
    exact: bool = False            # also run J-BOND on the micro GPT with exact KL to Best-of-2^m
    budget: str = "wall"           # REINFORCE budget: "wall" (J-BOND's training seconds) or "steps"
    seed: int = 0                  # seeds every generator of the run
    eval_prompts: int = 256        # evaluation prompts (one sample each; 16 candidates each for Best-of-N)
    ref_k: int = 32                # pi_ref samples per prompt opening for the reference quantiles
    max_new_tokens: int = 24       # completion length limit
    jbond: JBondConfig = field(default_factory=JBondConfig)           # J-BOND settings (target_n is overridden)
    reinforce: ReinforceConfig = field(default_factory=ReinforceConfig)  # REINFORCE settings (beta_rl swept)
    beta_rls: tuple = BETA_RLS     # the REINFORCE sweep

    def __post_init__(self):
        self.target_n = V.n_real(self.target_n, "target_n")
        if self.target_n < 2:   # Best-of-1 is pi_ref: nothing to distil, and its KL bound 0 scales the report
            raise ValueError(f"target_n must be >= 2, got {self.target_n!r}")
        if self.budget not in ("wall", "steps"):
            raise ValueError(f"budget must be 'wall' or 'steps', got {self.budget!r}")
        for name in ("eval_prompts", "ref_k", "max_new_tokens", "keep_going_steps"):
            setattr(self, name, V.positive_int(getattr(self, name), name))

    @classmethod
    def smoke_config(cls, **kw) -> "DemoConfig":
        """The ``--smoke`` sizes: 40 evaluation prompts, 16 reference samples, 12 J-BOND steps of 16 prompts."""
        kw.setdefault("budget", "steps")
        jb = kw.pop("jbond", None) or JBondConfig(max_steps=12, batch_prompts=16, eval_every=4, warmup=2)
        rf = kw.pop("reinforce", None) or ReinforceConfig(max_steps=12, batch_prompts=8, eval_every=4, warmup=2)
        sizes = {"eval_prompts": 40, "ref_k": 16, "keep_going_steps": 8}
        return cls(**{**sizes, **kw, "smoke": True, "jbond": jb, "reinforce": rf})


@dataclass(frozen=True)
class Stage:
    """One step of the demo, as data: ``name`` keys its results (``methods``/``history``) and labels the
    progress bar, ``kind`` picks its runner, ``config`` is the algorithm's config for that stage (None for
    Best-of-N and the exact micro run, which read the DemoConfig)."""
    name: str
    kind: str                 # "best-of-n", "jbond", "jbond_keep_going", "reinforce" or "exact"
    config: object = None     # JBondConfig or ReinforceConfig (its beta_rl is the stage's beta_RL)


def plan(cfg: DemoConfig) -> tuple[Stage, ...]:
    """The stages of a demo run, in order. Each algorithm's config is ``cfg.jbond`` / ``cfg.reinforce`` with
    the demo's fields (target N, length, seed, beta_RL) replaced; REINFORCE's step or time budget is set when
    J-BOND has run (:func:`reinforce_budget`)."""
    jcfg = replace(cfg.jbond, target_n=cfg.target_n, keep_going=False, max_new_tokens=cfg.max_new_tokens,
                   seed=cfg.seed)
    stages = [Stage("best-of-n", "best-of-n"), Stage("jbond", "jbond", jcfg)]
    if cfg.keep_going:
        stages.append(Stage("jbond_keep_going", "jbond_keep_going",     # max_steps: the extra steps
                            replace(jcfg, keep_going=True, max_steps=cfg.keep_going_steps)))
    for b in cfg.beta_rls:
        rcfg = replace(cfg.reinforce, beta_rl=float(b), seed=cfg.seed + 4, max_new_tokens=cfg.max_new_tokens)
        stages.append(Stage(f"reinforce_{b:g}", "reinforce", rcfg))
    if cfg.exact:
        stages.append(Stage("exact", "exact"))
    return tuple(stages)


def reinforce_budget(cfg: DemoConfig, rcfg: ReinforceConfig, jbond_steps: int, jbond_s: float) -> ReinforceConfig:
    """REINFORCE with J-BOND's training seconds (``budget="wall"``, at most max(its max_steps, 50 x J-BOND's
    steps)) or with J-BOND's number of steps (``budget="steps"``)."""
    if cfg.budget == "wall":
        return replace(rcfg, budget_s=jbond_s, max_steps=max(rcfg.max_steps, 50 * jbond_steps))
    return replace(rcfg, budget_s=None, max_steps=jbond_steps)


@dataclass
class DemoResult:
    data: dict        # the JSON: config, methods, history (and exact)
    policies: dict    # method name -> trained GPT (jbond, reinforce_<beta>)
    ref: object       # pi_ref (GPT)
    tokenizer: object  # its tokenizer
    evaluate: object = None  # evaluate(policy) -> dict of EVAL_KEYS on the run's prompts and reference pool
    gold: object = None      # the gold reward (texts -> array)
    proxy: object = None     # the proxy reward, or None


def _clean(v):
    """JSON-safe: a non-finite float (the loss before the first step) becomes None."""
    return None if isinstance(v, float) and not math.isfinite(v) else v


def _history_columns(records: list, keys=HISTORY_KEYS) -> dict:
    return {k: [_clean(r.get(k)) for r in records] for k in keys}


def _method_entry(rec: dict, wall_s: float, samples_per_prompt: int, **extra) -> dict:
    out = {"reward": rec["reward"], "kl": rec["kl"], "quantile": rec["quantile"], "wall_s": wall_s,
           "samples_per_prompt": samples_per_prompt, "proxy_reward": rec["proxy_reward"], "length": rec["length"],
           "end_frac": rec["end_frac"], "samples": rec.get("samples", [])}
    out.update(extra)
    return out


@torch.no_grad()
def _best_of_n(ref, tok, prompt_texts, gold, proxy, pool, cfg: DemoConfig, g: torch.Generator) -> dict:
    """Best-of-N from pi_ref for N = 1 and BON_NS, nested on one set of max(N) candidates per prompt."""
    nmax = max(BON_NS)
    t0 = time.perf_counter()
    rows = [p for p in prompt_texts for _ in range(nmax)]                               # prompt-major
    comp, mask = ref.generate(tok.encode_prompts(rows), cfg.max_new_tokens, g)          # (E nmax, T)
    texts = texts_of(tok, rows, comp)
    r = score(gold, texts).reshape(len(prompt_texts), nmax)                             # (E, nmax)
    sample_s = time.perf_counter() - t0
    rp = score(proxy, texts).reshape(r.shape) if proxy is not None else None
    length = mask.sum(1).double().numpy().reshape(r.shape)
    ended = (comp == ref.cfg.end_id).any(1).double().numpy().reshape(r.shape)
    out = {}
    for n in (1,) + BON_NS:
        best = np.argmax(r[:, :n], axis=1)                                              # (E,) first best wins ties
        rows_e = np.arange(len(prompt_texts))
        rb = r[rows_e, best]
        rec = {"reward": float(rb.mean()), "kl": float(bon_kl_bound(n)) if n > 1 else 0.0,
               "quantile": float(quantile_against(pool, prompt_texts, rb).mean()),
               "proxy_reward": float(rp[rows_e, best].mean()) if rp is not None else None,
               "length": float(length[rows_e, best].mean()), "end_frac": float(ended[rows_e, best].mean()),
               "samples": [texts[i * nmax + b] for i, b in enumerate(best[:4])]}
        name = "ref" if n == 1 else f"bon_{n}"
        # sampling cost at inference: n candidates per prompt, timed as a share of the nmax draws
        out[name] = _method_entry(rec, sample_s * n / nmax, n, kl_bound=float(bon_kl_bound(n)))
    return out


def _load_models():
    from . import load_pretrained
    from .rewards import ProxyConfig, VaderReward, train_proxy
    ref, tok = load_pretrained("reviews")
    gold = VaderReward()
    proxy = train_proxy(ProxyConfig(), gold)
    return ref.eval(), tok, gold, proxy


@dataclass
class _Run:
    """What the stages share: the models, the evaluation prompts and reference pool, and what they produced."""
    cfg: DemoConfig
    ref: object
    tok: object
    gold: object
    proxy: object
    eval_texts: list
    pool: object
    progress: bool
    data: dict
    policies: dict = field(default_factory=dict)
    jbond: object = None     # J-BOND's result: the keep-going stage and REINFORCE's budget start from it

    def evaluate(self, policy) -> dict:
        # a fresh generator per call with a fixed seed: every evaluation sees common random numbers
        return evaluate(policy, self.ref, self.tok, self.eval_texts, self.gold, self.proxy, self.pool,
                        torch.Generator().manual_seed(self.cfg.seed + 3), self.cfg.max_new_tokens)


def _run_best_of_n(run: _Run, stage: Stage) -> None:
    run.data["methods"].update(_best_of_n(run.ref, run.tok, run.eval_texts, run.gold, run.proxy, run.pool, run.cfg,
                                          torch.Generator().manual_seed(run.cfg.seed + 2)))


def _run_jbond(run: _Run, stage: Stage) -> None:
    res = train_jbond(run.ref, run.tok, PROMPT_OPENINGS, text_reward(run.tok, run.gold), stage.config,
                      evaluate=run.evaluate, progress=run.progress)
    run.jbond, run.policies[stage.name] = res, res.policy
    last, n = res.history[-1], run.cfg.target_n
    bound = float(bon_kl_bound(n))
    run.data["methods"][stage.name] = _method_entry(
        last, res.train_s, 1, steps=res.steps, stop_reason=res.stop_reason, target_n=n,
        quantile_target=quantile_target(n), kl_bound=bound, kl_over_bound=last["kl"] / bound)
    run.data["history"][stage.name] = _history_columns(res.history)


def _run_keep_going(run: _Run, stage: Stage) -> None:
    """J-BOND past its stop: the same run continued from its state (EMA anchor, Adam, generator, step count)
    for ``keep_going_steps`` more steps; steps and seconds count on from J-BOND's."""
    jb = run.jbond
    cfg = replace(stage.config, max_steps=jb.steps + stage.config.max_steps)
    kg = train_jbond(run.ref, run.tok, PROMPT_OPENINGS, text_reward(run.tok, run.gold), cfg,
                     evaluate=run.evaluate, resume=jb.state, progress=run.progress, desc="J-BOND keep going")
    # the continued curve starts where J-BOND stopped (its last evaluation is this run's state at that step)
    run.data["history"][stage.name] = _history_columns([jb.history[-1]] + kg.history)
    run.data["methods"][stage.name] = _method_entry(kg.history[-1], kg.train_s, 1, steps=kg.steps)
    run.policies[stage.name] = kg.policy


def _run_reinforce(run: _Run, stage: Stage) -> None:
    rcfg = reinforce_budget(run.cfg, stage.config, run.jbond.steps, run.jbond.train_s)
    res = train_reinforce(run.ref, run.tok, PROMPT_OPENINGS, text_reward(run.tok, run.gold), rcfg,
                          evaluate=run.evaluate, progress=run.progress)
    run.policies[stage.name] = res.policy
    run.data["methods"][stage.name] = _method_entry(res.history[-1], res.train_s, 1, steps=res.steps,
                                                    beta_rl=rcfg.beta_rl, stop_reason=res.stop_reason)
    run.data["history"][stage.name] = _history_columns(res.history)


def _run_exact(run: _Run, stage: Stage) -> None:
    run.data["exact"] = run_exact(run.cfg, progress=run.progress)


RUNNERS = {"best-of-n": _run_best_of_n, "jbond": _run_jbond, "jbond_keep_going": _run_keep_going,
           "reinforce": _run_reinforce, "exact": _run_exact}


def run_demo(cfg: DemoConfig | None = None, *, ref=None, tokenizer=None, gold=None, proxy=None,
             progress: bool = True) -> DemoResult:
    """Run the whole comparison; pass ``ref``/``tokenizer``/``gold``/``proxy`` to use other models (tests
    use a tiny random GPT). Returns plain data and the trained policies."""
    cfg = cfg or DemoConfig()
    if ref is None:
        ref, tokenizer, gold0, proxy0 = _load_models()
        gold, proxy = gold or gold0, proxy or proxy0
    if tokenizer is None or gold is None:
        raise ValueError("pass tokenizer and gold together with ref")
    ref = ref.eval()
    stages = plan(cfg)
    g_eval_prompts = np.random.default_rng(cfg.seed)
    eval_texts = [PROMPT_OPENINGS[i] for i in g_eval_prompts.integers(len(PROMPT_OPENINGS), size=cfg.eval_prompts)]
    pool = ref_pool(ref, tokenizer, PROMPT_OPENINGS, gold, cfg.ref_k, torch.Generator().manual_seed(cfg.seed + 1),
                    cfg.max_new_tokens)
    run = _Run(cfg, ref, tokenizer, gold, proxy, eval_texts, pool, progress,
               data={"config": _config_dict(cfg), "methods": {}, "history": {}})
    bar = tqdm(stages, desc="demo", disable=not progress)
    for stage in bar:
        bar.set_postfix_str(stage.name)
        RUNNERS[stage.kind](run, stage)
    bar.close()
    return DemoResult(run.data, run.policies, ref, tokenizer, run.evaluate, gold, proxy)


def _config_dict(cfg: DemoConfig) -> dict:
    d = asdict(cfg)
    d["beta_rls"] = list(cfg.beta_rls)
    d["bon_ns"] = list(BON_NS)
    d["quantile_target"] = quantile_target(cfg.target_n)
    d["kl_bound"] = float(bon_kl_bound(cfg.target_n))
    return d
