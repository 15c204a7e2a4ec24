"""``bondlab.lm.demo.plan``: the demo's stages are data. Each stage's config is the user's config with only the
demo's fields replaced; beta_RL is carried in the REINFORCE config, never read back from the stage name."""
from dataclasses import asdict

import pytest
import torch

from bondlab.lm.corpus import review_tokenizer
from bondlab.lm.demo import DemoConfig, Stage, plan, reinforce_budget, run_demo
from bondlab.lm.jbond import JBondConfig
from bondlab.lm.model import GPT, GPTConfig
from bondlab.lm.reinforce import ReinforceConfig
from bondlab.lm.rewards import VaderReward

BETA = 0.1234567     # "%g" prints 0.123457: a name-parsed beta_RL would come back rounded


def _changed(a, b) -> set:
    """The fields where two configs of one class differ."""
    da, db = asdict(a), asdict(b)
    return {k for k in da if da[k] != db[k]}


def test_plan_replaces_only_the_demo_fields():
    jb, rf = JBondConfig(lr=1e-3, max_steps=7, seed=11), ReinforceConfig(batch_prompts=6, seed=12)
    cfg = DemoConfig(target_n=4, seed=2, max_new_tokens=9, keep_going=True, keep_going_steps=5, exact=True,
                     jbond=jb, reinforce=rf, beta_rls=(BETA, 1))
    stages = plan(cfg)
    assert [s.name for s in stages] == ["best-of-n", "jbond", "jbond_keep_going", "reinforce_0.123457",
                                        "reinforce_1", "exact"]
    assert all(isinstance(s, Stage) for s in stages)
    j, k = stages[1].config, stages[2].config
    assert _changed(jb, j) == {"target_n", "max_new_tokens", "seed"}
    assert (j.target_n, j.max_new_tokens, j.seed, j.keep_going) == (4.0, 9, 2, False)
    # keep going continues J-BOND's own run (its generator too): only the stop and the extra steps change
    assert _changed(j, k) == {"keep_going", "max_steps"} and k.max_steps == 5
    for stage, beta in zip(stages[3:5], (BETA, 1.0)):
        assert _changed(rf, stage.config) == {"beta_rl", "max_new_tokens", "seed"}   # rf.beta_rl is 0.1
        assert stage.config.beta_rl == beta and stage.config.seed == 2 + 4 and stage.config.max_new_tokens == 9
    assert cfg.jbond is jb and asdict(jb) == asdict(JBondConfig(lr=1e-3, max_steps=7, seed=11))   # not mutated
    with pytest.raises(AttributeError):
        stages[1].name = "other"                                                                      # frozen


def test_reinforce_budget_follows_jbond():
    rf = ReinforceConfig(max_steps=30)
    steps = reinforce_budget(DemoConfig(budget="steps"), rf, jbond_steps=4, jbond_s=2.5)
    assert (steps.max_steps, steps.budget_s) == (4, None)
    wall = reinforce_budget(DemoConfig(budget="wall"), rf, jbond_steps=4, jbond_s=2.5)
    assert (wall.max_steps, wall.budget_s) == (max(30, 50 * 4), 2.5)
    assert _changed(rf, wall) == {"max_steps", "budget_s"}


def test_run_reports_the_configured_beta_rl():
    tok = review_tokenizer()
    torch.manual_seed(0)
    ref = GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=16, n_layer=1, n_head=2, n_embd=16,
                        end_id=tok.end_id, pad_id=tok.pad_id, no_emit=(tok.pad_id, tok.bos_id)))
    cfg = DemoConfig.smoke_config(eval_prompts=8, ref_k=4, max_new_tokens=6, beta_rls=(BETA,),
                                  jbond=JBondConfig(max_steps=2, batch_prompts=4, eval_every=2),
                                  reinforce=ReinforceConfig(max_steps=2, batch_prompts=2, eval_every=2))
    data = run_demo(cfg, ref=ref, tokenizer=tok, gold=VaderReward(), proxy=None, progress=False).data
    assert data["methods"]["reinforce_0.123457"]["beta_rl"] == BETA
