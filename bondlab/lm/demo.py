"""``bondlab demo``: J-BOND vs Best-of-N vs REINFORCE on the shipped tiny GPT, in a few minutes on a CPU.

The pipeline (Sessa et al. 2024, Sec. 6, at toy scale):
1. pi_ref = the shipped review GPT; gold reward VADER, proxy reward a bag-of-words Bradley-Terry model.
   A pool of k pi_ref samples per prompt opening fixes the reference CDF of the quantiles.
   Two evaluation sets (:mod:`bondlab.lm.demo_eval`): the stop rule and every checkpoint choice read the
   *selection* set, every reported number comes from the *report* set (its own prompt draws, reference
   pool and generator), with 95% bootstrap intervals over its prompts (:mod:`bondlab.intervals`).
2. Best-of-N from pi_ref on the report prompts, N = 1 (``ref``), 2, 4, 8, 16: one set of 16 candidates
   per prompt, Best-of-N keeps the best of the first N. Its KL is the analytic log N - (N-1)/N.
3. J-BOND from pi_ref until its mean reference quantile on the selection set reaches N/(N+1) for the
   target N (or the KL budget).
4. REINFORCE (leave-one-out, KL penalty beta_RL in {0.01, 0.1, 1}) from pi_ref, each with J-BOND's budget:
   its number of policy samples (``budget="samples"``, the default: completions drawn from the policy being
   trained; J-BOND also draws two anchor samples per policy sample) or reward-model calls
   (``"reward_calls"``: every text scored, anchor samples included), counted as the trainers draw and score
   them (:mod:`bondlab.lm.budget`); its number of steps (``"steps"``); or its training seconds (``"wall"``,
   which varies from run to run).
   Every method reports its counted samples, reward calls and seconds.
5. Optional ``exact``: the same J-BOND on the micro GPT with a hard anchor, where the exact KL to
   Best-of-2^m(pi_ref) over every sequence is tracked across anchor updates.

The run is data: :func:`plan` turns a :class:`DemoConfig` into a tuple of frozen :class:`Stage` records (name,
kind, the algorithm's config derived with ``dataclasses.replace``; beta_RL lives in each REINFORCE config), and
``run_demo`` hands each stage to the runner of its kind. ``run_demo`` returns plain data (the JSON the command
writes: values, intervals, budgets, the front) plus the trained policies and the per-prompt values;
:mod:`bondlab.lm.demo_report` prints the table and :mod:`bondlab.lm.demo_figures` saves the figures.
"""
from __future__ import annotations

import copy
import math
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace

import torch
from tqdm.auto import tqdm

from .. import _validate as V
from ..intervals import LEVEL, N_BOOT, paired_difference
from ..theory import bon_kl_bound
from .budget import CountingReward, SampleCounter, reinforce_budget
from .corpus import PROMPT_OPENINGS
from .demo_eval import (TwoSetEvaluator, best_of_n_report, entry_from_history, eval_sets, front, history_columns,
                        interval_fields, interval_rng, per_prompt_history)
from .demo_exact import run_exact
from .demo_pool import run_stages, runs_of
from .demo_report import best_reward_within, format_table, front_table, write_outputs
from .jbond import JBondConfig, quantile_target, text_reward, train_jbond
from .reinforce import ReinforceConfig, train_reinforce

__all__ = ["DemoConfig", "DemoResult", "Stage", "plan", "reinforce_budget", "run_demo", "run_exact",
           "format_table", "front_table", "best_reward_within", "write_outputs", "METHOD_KEYS", "BON_NS", "BETA_RLS",
           "BUDGETS", "FRONT_KLS"]

METHOD_KEYS = ("reward", "kl", "quantile", "wall_s", "samples_per_prompt", "policy_samples", "samples_drawn",
               "reward_calls")
BON_NS = (2, 4, 8, 16)
BETA_RLS = (0.01, 0.1, 1.0)
BUDGETS = ("samples", "reward_calls", "steps", "wall")
FRONT_KLS = (0.5, 1.0, 1.5, 2.0, 3.0)


@dataclass
class DemoConfig:
    target_n: float = 8.0          # J-BOND stops when E[p_le] reaches target_n / (target_n + 1)
    smoke: bool = False            # a quick run: fewer prompts, steps and samples (for tests and CI)
    keep_going: bool = False       # J-BOND runs past its stop for keep_going_steps more steps
    keep_going_steps: int = 500    # extra steps with keep_going; measured: KL 20 nats at +300, the end token lost at +400-450
    exact: bool = False            # also run J-BOND on the micro GPT with exact KL to Best-of-2^m
    budget: str = "samples"        # REINFORCE gets J-BOND's: "samples", "reward_calls", "steps" or "wall" (seconds)
    seed: int = 0                  # seeds every generator of the run
    eval_prompts: int = 256        # report prompts (one sample each; 16 candidates each for Best-of-N)
    select_prompts: int = 256      # selection prompts: the stop rule and the front's checkpoint choice
    ref_k: int = 32                # pi_ref samples per prompt opening for the reference quantiles (each set its own)
    max_new_tokens: int = 24       # completion length limit
    # J-BOND: the lower-variance setting chosen from benchmarks/bench_jbond_front.py (target_n is overridden)
    jbond: JBondConfig = field(default_factory=JBondConfig.recommended)
    # REINFORCE with the same options (beta_rl swept), stopped past the front's largest KL (3 nats)
    reinforce: ReinforceConfig = field(default_factory=lambda: ReinforceConfig.recommended(kl_budget=3.0))
    beta_rls: tuple = BETA_RLS     # the REINFORCE sweep
    front_kls: tuple = FRONT_KLS   # the KL budgets of the front "best reward within KL <= k"
    workers: int = 2               # REINFORCE runs trained at once, each in a forked process (1: one by one, here)

    def __post_init__(self):
        self.target_n = V.n_real(self.target_n, "target_n")
        if self.target_n < 2:   # Best-of-1 is pi_ref: nothing to distil, and its KL bound 0 scales the report
            raise ValueError(f"target_n must be >= 2, got {self.target_n!r}")
        if self.budget not in BUDGETS:
            raise ValueError(f"budget must be one of {BUDGETS}, got {self.budget!r}")
        for name in ("eval_prompts", "select_prompts", "ref_k", "max_new_tokens", "keep_going_steps", "workers"):
            setattr(self, name, V.positive_int(getattr(self, name), name))
        for name in ("eval_prompts", "select_prompts"):
            if getattr(self, name) < 2:
                raise ValueError(f"{name} must be >= 2 (the intervals resample prompts), got {getattr(self, name)}")
        kls = tuple(float(k) for k in self.front_kls)
        if not kls or not all(math.isfinite(k) and k >= 0 for k in kls):
            raise ValueError(f"front_kls must be KL budgets >= 0, got {self.front_kls!r}")
        self.front_kls = kls

    @classmethod
    def smoke_config(cls, **kw) -> "DemoConfig":
        """The ``--smoke`` sizes: 40 report and 40 selection prompts, 16 reference samples, 12 J-BOND steps of
        4 prompts x 4 samples (the full run's options), REINFORCE with J-BOND's number of steps."""
        kw.setdefault("budget", "steps")
        jb = kw.pop("jbond", None) or JBondConfig.recommended(max_steps=12, batch_prompts=4, eval_every=4, warmup=2)
        rf = kw.pop("reinforce", None) or ReinforceConfig.recommended(max_steps=12, batch_prompts=4, eval_every=4,
                                                                      warmup=2)
        sizes = {"eval_prompts": 40, "select_prompts": 40, "ref_k": 16, "keep_going_steps": 8}
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
    the demo's fields (target N, length, seed, beta_RL) replaced; REINFORCE's budget is set when J-BOND has
    run (:func:`reinforce_budget`)."""
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


@dataclass
class DemoResult:
    data: dict        # the JSON: config, methods, history, front (and exact)
    policies: dict    # method name -> trained GPT (jbond, reinforce_<beta>)
    ref: object       # pi_ref (GPT)
    tokenizer: object  # its tokenizer
    evaluate: object = None  # evaluate(policy) -> dict: selection means at the top level, per-prompt arrays of both sets
    gold: object = None      # the gold reward (texts -> array)
    proxy: object = None     # the proxy reward, or None
    per_prompt: dict = field(default_factory=dict)  # name -> {"select"|"report": {key: (C, E)}} (Best-of-N: rewards)
    jbond_state: object = None  # J-BOND's TrainState where it last stopped: train_jbond(..., resume=) continues it


@dataclass
class _Run:
    """What the stages share: the models, the two-set evaluator, and what they produced."""
    cfg: DemoConfig
    ref: object
    tok: object
    gold: object
    proxy: object
    evaluate: TwoSetEvaluator
    progress: bool
    data: dict
    policies: dict = field(default_factory=dict)
    per_prompt: dict = field(default_factory=dict)
    jbond: object = None     # J-BOND's result: the keep-going stage and REINFORCE's budget start from it
    state: object = None     # J-BOND's TrainState where it last stopped (after keep-going, if it ran)

    @contextmanager
    def counted(self):
        """(reward, counter): the gold reward counting the texts it scores, and the policy samples drawn
        inside the block (evaluations excluded)."""
        reward = CountingReward(self.gold)
        with SampleCounter() as counter:
            self.evaluate.counter, self.evaluate.reward = counter, reward
            try:
                yield reward, counter
            finally:
                self.evaluate.counter = self.evaluate.reward = None

    def record(self, name: str, history: list, **extra) -> None:
        """The history columns (with intervals), the method's row from its last evaluation, and its per-prompt
        values kept for the front."""
        cols = history_columns(history, interval_rng(self.cfg.seed, name))
        self.data["history"][name] = cols
        self.data["methods"][name] = {**entry_from_history(cols, history[-1]), "samples_per_prompt": 1, **extra}
        self.per_prompt[name] = per_prompt_history(history)


def _budget(res, reward: CountingReward, counter: SampleCounter) -> dict:
    return {"wall_s": res.train_s, "steps": res.steps, "policy_samples": counter.of(res.policy),
            "samples_drawn": counter.samples, "reward_calls": reward.texts}


def _run_best_of_n(run: _Run, stage: Stage) -> None:
    with run.counted() as (reward, counter):
        entries, rewards = best_of_n_report(run.ref, run.tok, run.evaluate.report, reward, run.proxy, BON_NS,
                                            run.cfg.max_new_tokens, torch.Generator().manual_seed(run.cfg.seed + 2),
                                            run.cfg.seed)
    for name, e in entries.items():   # training budget: none; the candidates are the inference cost
        run.data["methods"][name] = {**e, "policy_samples": 0, "samples_drawn": 0, "reward_calls": 0}
    run.data["best_of_n_drawn"] = {"policy_samples": counter.samples, "samples_drawn": counter.samples,
                                   "reward_calls": reward.texts}
    run.per_prompt["best-of-n"] = rewards


def _run_jbond(run: _Run, stage: Stage) -> None:
    with run.counted() as (reward, counter):
        res = train_jbond(run.ref, run.tok, PROMPT_OPENINGS, text_reward(run.tok, reward), stage.config,
                          evaluate=run.evaluate, progress=run.progress)
    # a snapshot: keep-going continues the run's state, which trains res.policy further
    run.jbond, run.state, run.policies[stage.name] = res, res.state, copy.deepcopy(res.policy)
    n, bound = run.cfg.target_n, float(bon_kl_bound(run.cfg.target_n))
    run.record(stage.name, res.history, **_budget(res, reward, counter), stop_reason=res.stop_reason, target_n=n,
               quantile_target=quantile_target(n), kl_bound=bound)
    m = run.data["methods"][stage.name]
    m["kl_over_bound"] = m["kl"] / bound
    m["kl_over_bound_ci"] = [None if v is None else v / bound for v in m["kl_ci"]]
    bon = run.per_prompt.get("best-of-n", {}).get(f"bon_{n:g}")
    if bon is not None:   # paired on the report prompts: J-BOND's sample and Best-of-N's pick for prompt i
        diff = paired_difference(run.per_prompt[stage.name]["report"]["reward"][-1], bon,
                                 interval_rng(run.cfg.seed, "jbond minus bon"))
        m.update(interval_fields("reward_minus_bon", diff))


def _run_keep_going(run: _Run, stage: Stage) -> None:
    """J-BOND past its stop: the same run continued from its state (EMA anchor, Adam moments, generator, step
    count) for ``keep_going_steps`` more steps; steps, seconds and budgets count on from J-BOND's."""
    jb, before = run.jbond, run.data["methods"]["jbond"]
    cfg = replace(stage.config, max_steps=jb.steps + stage.config.max_steps)
    with run.counted() as (reward, counter):
        kg = train_jbond(run.ref, run.tok, PROMPT_OPENINGS, text_reward(run.tok, reward), cfg,
                         evaluate=run.evaluate, resume=jb.state, progress=run.progress, desc="J-BOND keep going")
    counts = ("policy_samples", "samples_drawn", "reward_calls")
    hist = [{**r, **{c: r[c] + before[c] for c in counts}} for r in kg.history]
    # the continued curve starts where J-BOND stopped (its last evaluation is this run's state at that step)
    run.record(stage.name, [jb.history[-1]] + hist, wall_s=kg.train_s, steps=kg.steps,
               policy_samples=before["policy_samples"] + counter.of(kg.policy),
               samples_drawn=before["samples_drawn"] + counter.samples,
               reward_calls=before["reward_calls"] + reward.texts)
    run.policies[stage.name], run.state = kg.policy, kg.state


def _train_reinforce(run: _Run, stage: Stage, in_worker: bool = False) -> dict:
    """One REINFORCE run with J-BOND's budget, as plain data (it may run in a worker process)."""
    j = run.data["methods"]["jbond"]
    rcfg = reinforce_budget(run.cfg, stage.config, run.jbond.steps, run.jbond.train_s,
                            policy_samples=j["policy_samples"], reward_calls=j["reward_calls"])
    with run.counted() as (reward, counter):
        res = train_reinforce(run.ref, run.tok, PROMPT_OPENINGS, text_reward(run.tok, reward), rcfg,
                              evaluate=run.evaluate, progress=run.progress and not in_worker)
    return {"history": res.history, "budget": _budget(res, reward, counter), "beta_rl": rcfg.beta_rl,
            "stop_reason": res.stop_reason, "weights": res.policy.state_dict()}


def _record_reinforce(run: _Run, stage: Stage, out: dict) -> None:
    policy = copy.deepcopy(run.ref)
    policy.load_state_dict(out["weights"])
    run.policies[stage.name] = policy.eval()
    run.record(stage.name, out["history"], **out["budget"], beta_rl=out["beta_rl"], stop_reason=out["stop_reason"])


def _run_exact(run: _Run, stage: Stage) -> None:
    run.data["exact"] = run_exact(run.cfg, progress=run.progress)


RUNNERS = {"best-of-n": _run_best_of_n, "jbond": _run_jbond, "jbond_keep_going": _run_keep_going,
           "exact": _run_exact}   # REINFORCE stages: _train_reinforce through demo_pool.run_stages


def _load_models():
    from . import load_pretrained
    from .rewards import ProxyConfig, VaderReward, train_proxy
    ref, tok = load_pretrained("reviews")
    gold = VaderReward()
    proxy = train_proxy(ProxyConfig(), gold)
    return ref.eval(), tok, gold, proxy


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
    select, report = eval_sets(ref, tokenizer, gold, seed=cfg.seed, report_prompts=cfg.eval_prompts,
                               select_prompts=cfg.select_prompts, ref_k=cfg.ref_k, max_new_tokens=cfg.max_new_tokens)
    evaluator = TwoSetEvaluator(ref, tokenizer, gold, proxy, select, report, cfg.max_new_tokens)
    run = _Run(cfg, ref, tokenizer, gold, proxy, evaluator, progress,
               data={"config": _config_dict(cfg), "methods": {}, "history": {}})
    bar = tqdm(total=len(stages), desc="demo", disable=not progress)
    for group in runs_of(stages, "reinforce"):   # the REINFORCE runs are independent: they may run at once
        if group[0].kind == "reinforce":
            bar.set_postfix_str(f"{len(group)} REINFORCE run(s), up to {min(cfg.workers, len(group))} at once")
            outs = run_stages(run, group, _train_reinforce, cfg.workers, on_done=lambda s: bar.update())
            for stage, out in zip(group, outs):
                _record_reinforce(run, stage, out)
        else:
            bar.set_postfix_str(group[0].name)
            RUNNERS[group[0].kind](run, group[0])
            bar.update()
    bar.close()
    trained = {k: v for k, v in run.per_prompt.items() if k in run.data["history"]}
    run.data["front"] = front(trained, run.data, cfg.front_kls, cfg.seed)
    return DemoResult(run.data, run.policies, ref, tokenizer, evaluator, gold, proxy, run.per_prompt,
                      run.state)


def _config_dict(cfg: DemoConfig) -> dict:
    d = asdict(cfg)
    d["beta_rls"] = list(cfg.beta_rls)
    d["front_kls"] = list(cfg.front_kls)
    d["bon_ns"] = list(BON_NS)
    d["quantile_target"] = quantile_target(cfg.target_n)
    d["kl_bound"] = float(bon_kl_bound(cfg.target_n))
    d["interval"] = {"level": LEVEL, "n_boot": N_BOOT, "method": "percentile bootstrap over the report prompts"}
    return d
