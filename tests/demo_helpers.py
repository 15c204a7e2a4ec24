"""A tiny random GPT for demo tests (imported as ``from demo_helpers import ...``): runs in seconds."""
import torch

from bondlab.lm.corpus import review_tokenizer
from bondlab.lm.demo import DemoConfig, run_demo
from bondlab.lm.jbond import JBondConfig
from bondlab.lm.model import GPT, GPTConfig
from bondlab.lm.reinforce import ReinforceConfig
from bondlab.lm.rewards import VaderReward

JB = dict(max_steps=3, batch_prompts=4, eval_every=2)
RF = dict(max_steps=50, batch_prompts=3, samples_per_prompt=2, eval_every=2)


def tiny_gpt(tok):
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=16, n_layer=1, n_head=2, n_embd=16,
                         end_id=tok.end_id, pad_id=tok.pad_id, no_emit=(tok.pad_id, tok.bos_id)))


def tiny_demo(seed=3, budget="samples", gold=None, jb=None, **kw):
    """run_demo on the tiny GPT: 12 report and 10 selection prompts, 3 J-BOND steps, one REINFORCE (beta 0.1);
    ``jb`` updates J-BOND's settings (JB)."""
    tok = review_tokenizer()
    kw.setdefault("beta_rls", (0.1,))
    cfg = DemoConfig.smoke_config(seed=seed, eval_prompts=12, select_prompts=10, ref_k=4, max_new_tokens=8,
                                  budget=budget, jbond=JBondConfig(**{**JB, **(jb or {})}),
                                  reinforce=ReinforceConfig(**RF), **kw)
    return run_demo(cfg, ref=tiny_gpt(tok), tokenizer=tok, gold=gold or VaderReward(), proxy=None, progress=False)
