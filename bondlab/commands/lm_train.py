"""``bondlab lm jbond | reinforce``: train the shipped review GPT from the command line.

Every field of :class:`bondlab.configs.JBondConfig` / :class:`bondlab.configs.ReinforceConfig` is a flag
(:mod:`bondlab.commands._from_config`). The run evaluates on its own prompts against a pool of pi_ref samples
(reward, reference quantile, KL to pi_ref per sequence; :func:`bondlab.lm.metrics.evaluate`) and writes into
``--out``:

    history.json                {"config", "stop_reason", "steps", "train_s", "history": [one record per evaluation]}
    training_curves.png         quantile, gold reward and KL(pi || pi_ref) against the step
    policy.safetensors/.json    the trained GPT, a verified checkpoint (bondlab.lm.load_checkpoint reads it)
"""
from __future__ import annotations

import pathlib

from ..configs import JBondConfig, ReinforceConfig
from ..outputs import save_figure, write_json
from ..smoke import smoke_mode
from . import _args as A
from ._from_config import add_config_flags, config_from_args, print_history

OUTPUTS = ("history.json", "training_curves.png", "policy.safetensors", "policy.json")
# smaller sizes with --smoke / BONDLAB_SMOKE=1 (flags given still win)
SMOKE = {"jbond": {"max_steps": 12, "batch_prompts": 16, "eval_every": 4, "warmup": 2},
         "reinforce": {"max_steps": 12, "batch_prompts": 8, "eval_every": 4, "warmup": 2}}
CONFIGS = {"jbond": JBondConfig, "reinforce": ReinforceConfig}


def register(groups) -> None:
    lm = groups["lm"]
    helps = {"jbond": "distil Best-of-N into the review GPT with J-BOND (stops at quantile N/(N+1) or the KL budget)",
             "reinforce": "the RLHF baseline on the review GPT: REINFORCE with a KL penalty beta_RL to pi_ref"}
    for name, text in helps.items():
        p = lm.add_parser(name, help=text, description=text + ". Writes history.json, training_curves.png and the "
                                                              "trained model (policy.safetensors/.json) into --out.")
        add_config_flags(p, CONFIGS[name])
        p.add_argument("--reward", choices=["gold", "proxy"], default="gold",
                       help="train on the gold reward (VADER) or the proxy model; evaluation always uses gold")
        p.add_argument("--eval-prompts", type=A.count(), default=None,
                       help="evaluation prompts, one sample each (default 256; 40 in smoke mode)")
        p.add_argument("--ref-k", type=A.count(), default=None,
                       help="pi_ref samples per prompt opening for the reference quantiles (default 32; 16 in smoke mode)")
        p.add_argument("--out", type=A.PathArg("out_dir"), default=f"runs/lm-{name}",
                       help=f"folder for the outputs (default runs/lm-{name})")
        p.add_argument("--smoke", action="store_true", help="a quick run (also on with BONDLAB_SMOKE=1)")
        p.add_argument("--threads", type=A.THREADS, default=1, help="torch threads (default 1)")
        A.add_force(p)
        p.set_defaults(func=run, check=check, algorithm=name)


def _smoke(args) -> bool:
    return bool(args.smoke or smoke_mode())


def config_of(args):
    """The algorithm's config from the flags (smoke sizes under the flags given)."""
    return config_from_args(CONFIGS[args.algorithm], args, defaults=SMOKE[args.algorithm] if _smoke(args) else None)


def check(args) -> None:
    config_of(args)                               # what only several flags together can break
    A.preflight({"--out": [args.out / name for name in OUTPUTS]}, args.force)


def run(args) -> int:
    import numpy as np
    import torch
    from matplotlib.figure import Figure

    from ..lm import load_pretrained, save_checkpoint
    from ..lm.corpus import PROMPT_OPENINGS
    from ..lm.jbond import train_jbond
    from ..lm.metrics import evaluate, ref_pool, text_reward
    from ..lm.reinforce import train_reinforce
    from ..lm.rewards import ProxyConfig, VaderReward, train_proxy
    torch.set_num_threads(args.threads)
    cfg, smoke = config_of(args), _smoke(args)
    n_eval = args.eval_prompts or (40 if smoke else 256)
    k = args.ref_k or (16 if smoke else 32)
    ref, tok = load_pretrained("reviews")
    ref.eval()
    gold = VaderReward()
    train_on = gold if args.reward == "gold" else train_proxy(ProxyConfig(), gold)
    rng = np.random.default_rng(cfg.seed)
    texts = [PROMPT_OPENINGS[i] for i in rng.integers(len(PROMPT_OPENINGS), size=n_eval)]
    pool = ref_pool(ref, tok, PROMPT_OPENINGS, gold, k, torch.Generator().manual_seed(cfg.seed + 1), cfg.max_new_tokens)

    def ev(policy) -> dict:   # common random numbers: a fresh generator with one seed per evaluation
        out = evaluate(policy, ref, tok, texts, gold, None, pool, torch.Generator().manual_seed(cfg.seed + 3),
                       cfg.max_new_tokens)
        out.pop("samples", None)
        return out

    train = train_jbond if args.algorithm == "jbond" else train_reinforce
    res = train(ref, tok, PROMPT_OPENINGS, text_reward(tok, train_on), cfg, evaluate=ev)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "history.json", {"config": res.config, "reward": args.reward, "eval_prompts": n_eval, "ref_k": k,
                                      "stop_reason": res.stop_reason, "steps": res.steps, "train_s": res.train_s,
                                      "history": res.history})
    fig = Figure(figsize=(12, 3.6), layout="constrained")
    steps = [h["step"] for h in res.history]
    for ax, key in zip(fig.subplots(1, 3), ("quantile", "reward", "kl")):
        ax.plot(steps, [h[key] for h in res.history], "o-", ms=3, label=args.algorithm)
        if key == "quantile" and args.algorithm == "jbond":
            ax.axhline(cfg.target_n / (cfg.target_n + 1), color="k", ls="--", lw=0.8, label="N/(N+1)")
        ax.set_xlabel("step")
        ax.set_ylabel({"kl": "KL(pi || pi_ref)", "reward": "gold reward"}.get(key, key))
        ax.legend(fontsize=7)
    save_figure(fig, out / "training_curves.png", dpi=100)
    save_checkpoint(res.policy, tok, out / "policy", meta={"algorithm": args.algorithm, "config": res.config,
                                                           "steps": res.steps, "stop_reason": res.stop_reason})
    last = res.history[-1]
    print_history(res.history)
    print(f"stopped: {res.stop_reason} after {res.steps} steps ({res.train_s:.1f} s of training); final quantile "
          f"{last['quantile']:.3f}, KL {last['kl']:.3f}; wrote {', '.join(str(out / n) for n in OUTPUTS)}")
    return 0
