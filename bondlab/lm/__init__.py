"""The LM half of bondlab: a tiny GPT on generated reviews, its rewards, and a micro GPT whose whole
sequence space is enumerable (exact pi_ref, pi_BoN and divergences over sequences).

    from bondlab.lm import load_pretrained, LMPolicy, VaderReward
    model, tok = load_pretrained("reviews")
    policy = LMPolicy(model, tok)
"""
from __future__ import annotations

from pathlib import Path

from .bestofn import best_of_n, bon_reward_curve
from .checkpoints import load_checkpoint, save_checkpoint
from .corpus import (Tokenizer, micro_reward, micro_tokenizer, review_prompts, review_tokenizer, sample_micro,
                     sample_reviews)
from .exact import (MicroSpace, exact_bon_log_probs, exact_kl, jeffreys_to_target, kl_to_target, micro_space,
                    reward_law, sample_bon_indices)
from .model import GPT, GPTConfig, completion_mask
from .policy import LMPolicy
from .rewards import ProxyConfig, ProxyReward, VaderReward, train_proxy

__all__ = ["load_pretrained", "asset_path", "PRETRAINED", "GPT", "GPTConfig", "completion_mask", "LMPolicy",
           "Tokenizer", "review_tokenizer", "micro_tokenizer", "sample_reviews", "sample_micro", "review_prompts",
           "micro_reward", "VaderReward", "ProxyReward", "ProxyConfig", "train_proxy", "MicroSpace", "micro_space",
           "exact_bon_log_probs", "exact_kl", "kl_to_target", "jeffreys_to_target", "reward_law",
           "sample_bon_indices", "save_checkpoint", "load_checkpoint", "best_of_n", "bon_reward_curve"]

PRETRAINED = ("reviews", "micro")
ASSETS = Path(__file__).resolve().parent / "assets"


def asset_path(name: str) -> Path:
    """Path (without suffix) of a shipped checkpoint."""
    if name not in PRETRAINED:
        raise ValueError(f"name must be one of {PRETRAINED}, got {name!r}")
    return ASSETS / name


def load_pretrained(name: str = "reviews", path=None):
    """Load ``(model, tokenizer)``: a shipped model by name ("reviews" or "micro"), or the checkpoint at
    ``path`` (``x``, ``x.safetensors`` or ``x.json``). The sha256 recorded beside the file is checked; a
    missing file, a mismatch or a truncated file raises a ValueError naming the file."""
    if path is None:
        path = asset_path(name)
    model, tok, _ = load_checkpoint(path)
    return model, tok
