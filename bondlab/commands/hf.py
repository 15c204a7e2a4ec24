"""``bondlab hf jbond``: J-BOND on a Hugging Face causal LM from a local folder (needs ``bondlab[hf]``).

One process:          bondlab hf jbond --model PATH --reward vader --out runs/hf
Data-parallel:        accelerate launch --num_processes 2 -m bondlab.cli hf jbond --model PATH --reward vader
transformers and accelerate are imported in ``run`` only, so ``bondlab`` works without the extra.
"""
from __future__ import annotations

import json
from pathlib import Path

from ..configs import HFJBondConfig
from ..outputs import write_json
from . import _args as A
from ._from_config import add_config_flags, config_from_args, print_history

POSITION_KEYS = ("n_positions", "max_position_embeddings", "n_ctx", "seq_length")   # config.json names

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
    p.add_argument("--model", type=A.PathArg("in_dir"), required=True,
                   help="local folder of an AutoModelForCausalLM and its tokenizer")
    p.add_argument("--reward", type=RewardSource(), required=True,
                   help="'vader' or a local folder of an AutoModelForSequenceClassification")
    p.add_argument("--label", default=None,
                   help="for a reward model with several outputs: the label whose log-odds is the reward (name or index)")
    p.add_argument("--prompts", type=A.PathArg("in_file"), default=None,
                   help="UTF-8 text file with one prompt per line (default: the tiny GPT's review openings)")
    p.add_argument("--out", type=A.PathArg("out_dir"), default="runs/hf",
                   help="folder for checkpoints, the final model and history.json; a rerun resumes from it")
    p.add_argument("--no-resume", action="store_true", help="start afresh even if --out holds a checkpoint")
    p.add_argument("--cpu", action="store_true", help="run on the CPU even if a GPU is there")
    p.add_argument("--dtype", choices=["float32", "bfloat16", "float16"], default="float32",
                   help="weights' dtype (default float32)")
    p.add_argument("--threads", type=A.THREADS, default=None, help="torch CPU threads per process (default: torch's)")
    # one flag per field, help and range from the dataclass; the variance options run on the tiny GPT only
    add_config_flags(p, HFJBondConfig, skip=("samples_per_prompt", "kl", "pairs"))
    p.set_defaults(func=run, check=check)


class RewardSource(A.PathArg):
    """'vader', or else an existing folder (a reward model)."""

    def __init__(self):
        super().__init__("in_dir")

    def __call__(self, text: str):
        return text if text == "vader" else super().__call__(text)


def _prompts(path) -> list[str]:
    if path is None:
        from ..lm.corpus import PROMPT_OPENINGS
        return list(PROMPT_OPENINGS)
    try:
        return A.read_lines(path)
    except (OSError, ValueError) as e:
        raise ValueError(f"--prompts {str(path)!r}: {e}") from None


def model_positions(folder) -> int | None:
    """The model's position limit from its config.json (None if it declares none); ValueError naming --model."""
    cfg = Path(folder) / "config.json"
    try:
        data = json.loads(cfg.read_text())
    except FileNotFoundError:
        raise ValueError(f"--model {str(folder)!r} holds no config.json: not a Hugging Face model folder") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"--model {str(folder)!r}: its config.json is unreadable ({e})") from None
    found = [data[k] for k in POSITION_KEYS if isinstance(data, dict) and isinstance(data.get(k), int)]
    return min(found) if found else None


def check(args) -> None:
    """Before loading anything large: the extra, flags that only count together, the model's positions."""
    try:
        import accelerate  # noqa: F401
        import transformers  # noqa: F401
    except ImportError:
        raise ValueError("bondlab hf needs the optional extra: pip install 'bondlab[hf]'") from None
    anchor = args.anchor or "ema"
    if args.hard_period is not None and anchor != "hard":
        raise ValueError("--hard-period is read only with --anchor hard")
    if args.eta is not None and anchor != "ema":
        raise ValueError("--eta is read only with --anchor ema (the default)")
    if args.label is not None and args.reward == "vader":
        raise ValueError("--label is read only with a reward model folder as --reward, not with vader")
    positions = model_positions(args.model)
    m = args.max_new_tokens if args.max_new_tokens is not None else _config_default("max_new_tokens")
    if positions is not None and m >= positions:
        raise ValueError(f"--max-new-tokens {m} leaves no room for a prompt in the model's {positions} positions "
                         f"(config.json of --model); choose fewer than {positions}")
    prompts = _prompts(args.prompts)
    longest = _longest_prompt(args.model, prompts)
    if positions is not None and longest + m > positions:
        raise ValueError(f"--max-new-tokens {m} after the longest prompt ({longest} tokens) exceeds the model's "
                         f"{positions} positions; lower --max-new-tokens or shorten --prompts")


def _longest_prompt(folder, prompts) -> int:
    """Tokens of the longest prompt as the policy encodes it (its tokenizer only, not the weights)."""
    import types

    import transformers

    from ..hf.adapter import HFPolicy
    try:
        tok = transformers.AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    except (OSError, ValueError) as e:
        raise ValueError(f"--model {str(folder)!r}: its tokenizer cannot be loaded ({e})") from None
    return max(map(len, HFPolicy.encode(types.SimpleNamespace(tokenizer=tok), prompts)))


def _config_default(name: str):
    return HFJBondConfig.__dataclass_fields__[name].default


def run(args) -> int:
    import torch
    from accelerate import Accelerator   # check() has made sure the extra is there

    from ..hf import HFPolicy, load_reward, train_hf_jbond
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    cfg = config_from_args(HFJBondConfig, args)
    prompts = _prompts(args.prompts)
    label = int(args.label) if args.label is not None and args.label.isdigit() else args.label
    acc = Accelerator(cpu=args.cpu)
    policy = HFPolicy.from_pretrained(args.model, cfg.max_new_tokens, dtype=getattr(torch, args.dtype))
    reward = load_reward(str(args.reward), label=label, device=acc.device) if args.reward != "vader" else load_reward("vader")
    res = train_hf_jbond(policy, prompts, reward, cfg, out=args.out, accelerator=acc, resume=not args.no_resume)
    if acc.is_main_process:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        write_json(Path(args.out) / "history.json", res.history)
        print_history(res.history, ("reward", "quantile", "kl", "length"))
        print(f"stopped: {res.stop_reason} after {res.steps} steps on {acc.num_processes} process(es); "
              f"target quantile N/(N+1) = {cfg.target_n / (cfg.target_n + 1):.3f}; final model in {args.out}/final")
    return 0
