"""``bondlab hf jbond``: J-BOND on a Hugging Face causal LM from a local folder (needs ``bondlab[hf]``).

One process:          bondlab hf jbond --model PATH --reward vader --out runs/hf
Data-parallel:        accelerate launch --num_processes 2 -m bondlab.cli hf jbond --model PATH --reward vader
transformers and accelerate are imported in ``run`` only, so ``bondlab`` works without the extra.
"""
from __future__ import annotations

import json
from pathlib import Path

from .. import _validate as V

# command-line flag -> HFJBondConfig field; None defaults leave the config's default (see bondlab.hf.train)
FIELDS = {"target_n": float, "kl_budget": float, "max_steps": int, "batch_prompts": int, "lr": float,
          "warmup": int, "beta": float, "eta": float, "gamma": float, "anchor": str, "hard_period": int,
          "objective": str, "max_new_tokens": int, "eval_every": int, "eval_prompts": int, "ref_samples": int,
          "checkpoint_every": int, "seed": int}
HELP = {"target_n": "stop when the mean reference quantile reaches N/(N+1) (default 8)",
        "kl_budget": "stop when KL(pi || pi_ref) per sequence exceeds this (default 10 nats)",
        "max_steps": "optimizer steps at most (default 1000)",
        "batch_prompts": "GLOBAL prompts per step, split over the processes (default 128, as in the paper)",
        "lr": "Adam learning rate (default 3e-6, as in the paper)",
        "warmup": "linear warm-up steps (default 100, as in the paper)",
        "beta": "Jeffreys mixing beta (default 0.5)", "eta": "EMA anchor rate eta (default 0.02, as in the paper)",
        "gamma": "extra KL(pi || pi_anchor) regulariser (default 0)", "anchor": "ema (default) or hard",
        "hard_period": "steps between anchor replacements with --anchor hard (default 50)",
        "objective": "jeffreys (default), forward or backward",
        "max_new_tokens": "completion length limit in tokens (default 64)",
        "eval_every": "steps between evaluations and stop checks (default 50)",
        "eval_prompts": "GLOBAL evaluation prompts (default 64)",
        "ref_samples": "pi_ref samples per evaluation prompt for the quantile (default 16)",
        "checkpoint_every": "steps between checkpoints (default 50)", "seed": "seed of every generator (default 0)"}


def register(groups) -> None:
    hf = groups["root"].add_parser(
        "hf", help="J-BOND on a Hugging Face causal LM (needs: pip install 'bondlab[hf]')",
    ).add_subparsers(dest="hf_command", metavar="HF_COMMAND")
    p = hf.add_parser(
        "jbond", help="distil Best-of-N into a local Hugging Face causal LM with J-BOND (data-parallel with accelerate)",
        description="J-BOND (Sessa et al. 2024, Alg. 2) on a causal LM from a local folder, rewarded by VADER or a "
                    "local sequence-classification reward model. Run it plainly on one device, or with "
                    "`accelerate launch --num_processes K -m bondlab.cli hf jbond ...` on K. Writes "
                    "checkpoint.safetensors/.json into --out (a rerun resumes from it), the final model into "
                    "--out/final and the evaluation history into --out/history.json.")
    p.add_argument("--model", required=True, help="local folder of an AutoModelForCausalLM and its tokenizer")
    p.add_argument("--reward", required=True, help="'vader' or a local folder of an AutoModelForSequenceClassification")
    p.add_argument("--label", default=None,
                   help="for a reward model with several outputs: the label whose log-odds is the reward (name or index)")
    p.add_argument("--prompts", default=None,
                   help="text file with one prompt per line (default: the tiny GPT's review openings)")
    p.add_argument("--out", default="runs/hf", help="folder for checkpoints, the final model and history.json")
    p.add_argument("--no-resume", action="store_true", help="start afresh even if --out holds a checkpoint")
    p.add_argument("--keep-going", action="store_true", help="ignore the stops and run --max-steps")
    p.add_argument("--cpu", action="store_true", help="run on the CPU even if a GPU is there")
    p.add_argument("--dtype", choices=["float32", "bfloat16", "float16"], default="float32",
                   help="weights' dtype (default float32)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads per process (default: torch's)")
    for name, typ in FIELDS.items():
        p.add_argument("--" + name.replace("_", "-"), type=typ, default=None, help=HELP[name])
    p.set_defaults(func=run)


def _prompts(path) -> list[str]:
    if path is None:
        from ..lm.corpus import PROMPT_OPENINGS
        return list(PROMPT_OPENINGS)
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"--prompts {path!r} is not a file")
    lines = [ln.strip() for ln in p.read_text().splitlines() if ln.strip()]
    if not lines:
        raise ValueError(f"--prompts {path!r} holds no prompt")
    return lines


def run(args) -> int:
    import torch
    try:
        from accelerate import Accelerator
    except ImportError:
        raise ValueError("bondlab hf needs the optional extra: pip install 'bondlab[hf]'") from None
    from ..hf import HFJBondConfig, HFPolicy, load_reward, train_hf_jbond
    if args.threads is not None:
        torch.set_num_threads(V.positive_int(args.threads, "--threads"))
    kw = {k: getattr(args, k) for k in FIELDS if getattr(args, k) is not None}
    cfg = HFJBondConfig(keep_going=args.keep_going, **kw)
    prompts = _prompts(args.prompts)
    label = int(args.label) if args.label is not None and args.label.isdigit() else args.label
    acc = Accelerator(cpu=args.cpu)
    policy = HFPolicy.from_pretrained(args.model, cfg.max_new_tokens, dtype=getattr(torch, args.dtype))
    reward = load_reward(args.reward, label=label, device=acc.device) if args.reward != "vader" else load_reward("vader")
    res = train_hf_jbond(policy, prompts, reward, cfg, out=args.out, accelerator=acc, resume=not args.no_resume)
    if acc.is_main_process:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        (Path(args.out) / "history.json").write_text(json.dumps(res.history, indent=1) + "\n")
        print(f"{'step':>6} {'reward':>8} {'quantile':>9} {'KL':>8} {'length':>7}")
        for h in res.history:
            print(f"{h['step']:6d} {h['reward']:8.3f} {h['quantile']:9.3f} {h['kl']:8.3f} {h['length']:7.1f}")
        print(f"stopped: {res.stop_reason} after {res.steps} steps on {acc.num_processes} process(es); "
              f"target quantile N/(N+1) = {cfg.target_n / (cfg.target_n + 1):.3f}; final model in {args.out}/final")
    return 0
