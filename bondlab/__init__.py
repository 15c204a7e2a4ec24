"""bondlab: Best-of-N sampling and BOND (Best-of-N Distillation, Sessa et al. 2024, arXiv 2407.14622), for teaching.

The exact core works on finite spaces (numpy) and has a torch twin for batches of enumerated sequences.
"""
from .bon import (bon_levels, bon_log_probs, bon_log_probs_torch, bon_probs, bon_terms, levels, quantiles,
                  sample_bon, sample_ref)
from .divergences import entropy, jeffreys, kl, kl_log, tv
from .theory import (bon_expected_log_quantile, bon_expected_quantile, bon_expected_reward, bon_kl, bon_kl_bound,
                     bon_win_rate, gao_bon, gao_rl)
from .spaces import Space, grid_mixture, reward_shape, tie_example, uniform_binary
from .smoke import smoke_mode

__version__ = "0.1.0"
__all__ = [
    "bon_probs", "bon_log_probs", "bon_log_probs_torch", "bon_levels", "bon_terms", "levels", "quantiles",
    "sample_bon", "sample_ref", "kl", "kl_log", "jeffreys", "entropy", "tv", "bon_kl", "bon_kl_bound",
    "bon_win_rate", "bon_expected_quantile", "bon_expected_log_quantile", "bon_expected_reward", "gao_bon",
    "gao_rl", "Space", "grid_mixture", "reward_shape", "tie_example", "uniform_binary", "smoke_mode",
]
