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

``run_demo`` returns plain data (the JSON the command writes) plus the trained policies;
``write_outputs`` saves the figures; ``format_table`` prints the table.
"""
from __future__ import annotations

import math
import pathlib
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from tqdm.auto import tqdm

from .. import _validate as V
from ..outputs import save_figure, write_json
from ..theory import bon_kl_bound
from .corpus import PROMPT_OPENINGS, micro_reward
from .jbond import JBondConfig, quantile_target, text_reward, train_jbond
from .metrics import EVAL_KEYS, evaluate, quantile_against, ref_pool, score, texts_of
from .reinforce import ReinforceConfig, train_reinforce

__all__ = ["DemoConfig", "DemoResult", "run_demo", "run_exact", "format_table", "front_table", "best_reward_within",
           "write_outputs", "METHOD_KEYS",
           "BON_NS", "BETA_RLS"]

METHOD_KEYS = ("reward", "kl", "quantile", "wall_s", "samples_per_prompt")
BON_NS = (2, 4, 8, 16)
BETA_RLS = (0.01, 0.1, 1.0)


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


def _history_columns(records: list, keys) -> dict:
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
    jcfg = JBondConfig(**{**asdict(cfg.jbond), "target_n": cfg.target_n, "keep_going": False,
                          "max_new_tokens": cfg.max_new_tokens, "seed": cfg.seed})
    g_eval_prompts = np.random.default_rng(cfg.seed)
    eval_texts = [PROMPT_OPENINGS[i] for i in g_eval_prompts.integers(len(PROMPT_OPENINGS), size=cfg.eval_prompts)]
    pool = ref_pool(ref, tokenizer, PROMPT_OPENINGS, gold, cfg.ref_k, torch.Generator().manual_seed(cfg.seed + 1),
                    cfg.max_new_tokens)

    def evaluator(seed):
        def ev(policy):
            # a fresh generator per call with a fixed seed: every evaluation sees common random numbers
            return evaluate(policy, ref, tokenizer, eval_texts, gold, proxy, pool, torch.Generator().manual_seed(seed),
                            cfg.max_new_tokens)
        return ev

    data = {"config": _config_dict(cfg), "methods": {}, "history": {}}
    stages = ["best-of-n", "jbond"] + [f"reinforce_{b:g}" for b in cfg.beta_rls] + (["exact"] if cfg.exact else [])
    bar = tqdm(stages, desc="demo", disable=not progress)
    policies = {}
    for stage in bar:
        bar.set_postfix_str(stage)
        if stage == "best-of-n":
            data["methods"].update(_best_of_n(ref, tokenizer, eval_texts, gold, proxy, pool, cfg,
                                              torch.Generator().manual_seed(cfg.seed + 2)))
        elif stage == "jbond":
            res = train_jbond(ref, tokenizer, PROMPT_OPENINGS, text_reward(tokenizer, gold), jcfg,
                              evaluate=evaluator(cfg.seed + 3), progress=progress)
            policies["jbond"] = res.policy
            last = res.history[-1]
            bound = float(bon_kl_bound(cfg.target_n))
            data["methods"]["jbond"] = _method_entry(
                last, res.train_s, 1, steps=res.steps, stop_reason=res.stop_reason, target_n=cfg.target_n,
                quantile_target=quantile_target(cfg.target_n), kl_bound=bound, kl_over_bound=last["kl"] / bound)
            data["history"]["jbond"] = _history_columns(res.history, ("step", "wall_s", "loss") + EVAL_KEYS)
            jbond_steps, jbond_s = res.steps, res.train_s
            if cfg.keep_going:
                kcfg = JBondConfig(**{**asdict(jcfg), "keep_going": True, "max_steps": cfg.keep_going_steps,
                                      "seed": cfg.seed + 7})
                kg = train_jbond(ref, tokenizer, PROMPT_OPENINGS, text_reward(tokenizer, gold), kcfg,
                                 evaluate=evaluator(cfg.seed + 3), policy=res.policy, progress=progress,
                                 desc="J-BOND keep going")
                hist = _history_columns(kg.history, ("step", "wall_s", "loss") + EVAL_KEYS)
                hist["step"] = [s + jbond_steps for s in hist["step"]]
                hist["wall_s"] = [w + jbond_s for w in hist["wall_s"]]
                data["history"]["jbond_keep_going"] = hist
                data["methods"]["jbond_keep_going"] = _method_entry(kg.history[-1], jbond_s + kg.train_s, 1,
                                                                    steps=jbond_steps + kg.steps)
                policies["jbond_keep_going"] = kg.policy
        elif stage.startswith("reinforce_"):
            beta_rl = float(stage.split("_")[1])
            budget = {"budget_s": jbond_s, "max_steps": max(cfg.reinforce.max_steps, 50 * jbond_steps)} \
                if cfg.budget == "wall" else {"budget_s": None, "max_steps": jbond_steps}
            rcfg = ReinforceConfig(**{**asdict(cfg.reinforce), "beta_rl": beta_rl, "seed": cfg.seed + 4,
                                      "max_new_tokens": cfg.max_new_tokens, **budget})
            res = train_reinforce(ref, tokenizer, PROMPT_OPENINGS, text_reward(tokenizer, gold), rcfg,
                                  evaluate=evaluator(cfg.seed + 3), progress=progress)
            policies[stage] = res.policy
            data["methods"][stage] = _method_entry(res.history[-1], res.train_s, 1, steps=res.steps,
                                                   beta_rl=beta_rl, stop_reason=res.stop_reason)
            data["history"][stage] = _history_columns(res.history, ("step", "wall_s", "loss") + EVAL_KEYS)
        elif stage == "exact":
            data["exact"] = run_exact(cfg, progress=progress)
    bar.close()
    return DemoResult(data, policies, ref, tokenizer, evaluator(cfg.seed + 3), gold, proxy)


def _config_dict(cfg: DemoConfig) -> dict:
    d = asdict(cfg)
    d["beta_rls"] = list(cfg.beta_rls)
    d["bon_ns"] = list(BON_NS)
    d["quantile_target"] = quantile_target(cfg.target_n)
    d["kl_bound"] = float(bon_kl_bound(cfg.target_n))
    return d


# --------------------------------------------------------------------------------------- exact (micro GPT)
def run_exact(cfg: DemoConfig, *, progress: bool = True, model=None, period: int | None = None) -> dict:
    """Iterative J-BOND with a hard anchor on the micro GPT: after M anchor replacements the target is
    Best-of-2^M(pi_ref). Tracks, over every micro sequence, exact KL(pi || BoN_{2^m}(pi_ref)) and
    KL(BoN_{2^m} || pi) for m = 1..M, KL(pi || pi_ref), E_pi[r] and E_pi[p_le]."""
    from . import load_pretrained
    from .exact import exact_bon_log_probs, exact_kl, micro_space
    from ..bon import quantiles
    if model is None:
        model, tok = load_pretrained("micro")
    else:
        from .corpus import micro_tokenizer
        tok = micro_tokenizer()
    space = micro_space()
    rounds = max(1, math.ceil(math.log2(cfg.target_n)))
    period = period or (10 if cfg.smoke else 60)
    with torch.no_grad():
        log_ref = space.log_probs(model)                                                   # (S,)
        log_ref = log_ref - torch.logsumexp(log_ref, 0)
    ns = [2 ** m for m in range(1, rounds + 1)]
    targets = {n: exact_bon_log_probs(log_ref, space.rewards, n) for n in ns}
    _, p_le = quantiles(log_ref.exp().numpy(), space.rewards.numpy())
    p_le = torch.as_tensor(p_le)
    rec = {"step": [], "kl_ref": [], "reward": [], "quantile": [],
           "kl_to_bon": {str(n): [] for n in ns}, "kl_from_bon": {str(n): [] for n in ns}}

    def ev(policy):
        with torch.no_grad():
            lp = space.log_probs(policy)
            lp = lp - torch.logsumexp(lp, 0)
        p = lp.exp()
        out = {"kl": float(exact_kl(lp, log_ref)), "reward": float((p * space.rewards).sum()),
               "quantile": float((p * p_le).sum())}
        rec["kl_ref"].append(out["kl"])
        rec["reward"].append(out["reward"])
        rec["quantile"].append(out["quantile"])
        for n in ns:
            rec["kl_to_bon"][str(n)].append(float(exact_kl(lp, targets[n])))
            rec["kl_from_bon"][str(n)].append(float(exact_kl(targets[n], lp)))
        return out

    jcfg = JBondConfig(**{**asdict(cfg.jbond), "anchor": "hard", "hard_period": period, "keep_going": True,
                          "max_steps": rounds * period, "eval_every": max(1, period // 10),
                          "max_new_tokens": space.length, "seed": cfg.seed + 5, "lr": 1e-3})
    reward_fn = lambda prompts, comp: micro_reward(comp).numpy()  # noqa: E731
    res = train_jbond(model, tok, [""], reward_fn, jcfg, evaluate=ev, progress=progress, desc="J-BOND exact (micro)")
    rec["step"] = [h["step"] for h in res.history]
    rec["anchor_steps"] = [period * m for m in range(1, rounds + 1)]
    rec["bon_kl_exact"] = {str(n): float(exact_kl(targets[n], log_ref)) for n in ns}
    rec["bon_kl_bound"] = {str(n): float(bon_kl_bound(n)) for n in ns}
    rec["bon_quantile_exact"] = {str(n): float((targets[n].exp() * p_le).sum()) for n in ns}
    rec["bon_reward_exact"] = {str(n): float((targets[n].exp() * space.rewards).sum()) for n in ns}
    rec["num_sequences"] = space.num_sequences
    rec["period"] = period
    return rec


# --------------------------------------------------------------------------------------- output
def format_table(data: dict) -> str:
    """The methods as a fixed-width text table."""
    head = f"{'method':<18}{'reward':>8}{'proxy':>8}{'KL':>8}{'quantile':>10}{'end':>6}{'len':>6}{'wall s':>8}{'N/prompt':>9}"
    lines = [head, "-" * len(head)]
    for name, m in data["methods"].items():
        proxy = m.get("proxy_reward")
        lines.append(f"{name:<18}{m['reward']:>8.3f}{(proxy if proxy is not None else float('nan')):>8.3f}"
                     f"{m['kl']:>8.3f}{m['quantile']:>10.3f}{m.get('end_frac', float('nan')):>6.2f}"
                     f"{m.get('length', float('nan')):>6.1f}{m['wall_s']:>8.1f}{m['samples_per_prompt']:>9d}")
    lines += ["", front_table(data)]
    j = data["methods"].get("jbond")
    if j is not None:
        lines.append(f"J-BOND stop: {j['stop_reason']} after {j['steps']} steps; quantile {j['quantile']:.3f} "
                     f"(target {j['quantile_target']:.3f} for N={j['target_n']:g}); KL {j['kl']:.3f} = "
                     f"{j['kl_over_bound']:.2f} x the Best-of-{j['target_n']:g} bound {j['kl_bound']:.3f}")
    return "\n".join(lines)


def best_reward_within(history: dict, kl: float) -> float | None:
    """The highest mean gold reward a trajectory reached at an evaluation with KL(pi || pi_ref) <= ``kl``
    (its reward/KL front at that KL), or None if no evaluation was that close to pi_ref."""
    r = [ri for ri, ki in zip(history["reward"], history["kl"]) if ki <= kl]
    return max(r) if r else None


def front_table(data: dict, kls=(0.5, 1.0, 1.5, 2.0, 3.0)) -> str:
    """Best reward within each KL budget, per trained method, next to Best-of-N at its analytic KL: who holds
    the better reward/KL front, and where."""
    lines = ["best gold reward reached within KL <= " + "  ".join(f"{k:>6g}" for k in kls)]
    for name, h in data["history"].items():
        vals = [best_reward_within(h, k) for k in kls]
        lines.append(f"  {name:<38}" + "  ".join(f"{v:>6.3f}" if v is not None else f"{'-':>6}" for v in vals))
    bon = [max((m["reward"] for k_, m in data["methods"].items() if (k_ == "ref" or k_.startswith("bon_"))
                and m["kl"] <= k), default=None) for k in kls]
    lines.append(f"  {'Best-of-N (analytic KL)':<38}" + "  ".join(f"{v:>6.3f}" if v is not None else f"{'-':>6}"
                                                              for v in bon))
    return "\n".join(lines)


def write_outputs(data: dict, out_dir, json_path=None) -> list[pathlib.Path]:
    """Save the reward-vs-KL figure and the training curves (PNG) in ``out_dir``, and the JSON at
    ``json_path`` when given. Returns the written paths."""
    from matplotlib.figure import Figure
    from ..plots.lm import plot_exact_tracking, plot_reward_vs_kl, plot_training_curve
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    fig = Figure(figsize=(7, 4.8), layout="constrained")
    plot_reward_vs_kl(data, ax=fig.subplots())
    paths.append(save_figure(fig, out / "reward_vs_kl.png", dpi=110))
    fig = Figure(figsize=(13, 3.8), layout="constrained")
    axes = fig.subplots(1, 4)
    q = data["config"]["quantile_target"]
    plot_training_curve(data, "quantile", ax=axes[0], target=q)
    plot_training_curve(data, "reward", ax=axes[1])
    plot_training_curve(data, "kl", ax=axes[2])
    plot_training_curve(data, "end_frac", ax=axes[3])
    paths.append(save_figure(fig, out / "training_curves.png", dpi=100))
    if "exact" in data:
        fig = Figure(figsize=(11, 3.8), layout="constrained")
        a, b = fig.subplots(1, 2)
        plot_exact_tracking(data["exact"], "backward", ax=a)
        plot_exact_tracking(data["exact"], "forward", ax=b)
        paths.append(save_figure(fig, out / "exact_micro.png", dpi=100))
    if json_path is not None:
        jp = pathlib.Path(json_path)
        jp.parent.mkdir(parents=True, exist_ok=True)
        paths.append(write_json(jp, data))
    return paths
