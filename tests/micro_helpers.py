"""Shared helpers for the tests that train on the micro GPT (test_lm_jbond.py, test_lm_reinforce.py)."""
import torch

from bondlab.lm.corpus import micro_reward, micro_tokenizer
from bondlab.lm.exact import micro_space
from bondlab.lm.model import GPT
from bondlab.lm.pretrain import model_config

TOK = micro_tokenizer()


def micro_gpt(seed=0) -> GPT:
    """A randomly initialised micro GPT (seeded), in eval mode."""
    torch.manual_seed(seed)
    return GPT(model_config("micro")).eval()


def reward_fn(prompts, comp):
    """The micro language's reward, as the trainers call it: (prompts, completions) -> array."""
    return micro_reward(comp).numpy()


def exact_log_probs(model):
    """(S,) exact log pi over every micro sequence, renormalised."""
    with torch.no_grad():
        lp = micro_space().log_probs(model)
    return lp - torch.logsumexp(lp, 0)
