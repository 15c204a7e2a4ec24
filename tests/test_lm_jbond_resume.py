"""Keep going = no interruption: J-BOND stopped and continued from its state (policy, EMA anchor, Adam,
schedule, generator, step count) ends bit for bit where an uninterrupted run ends."""
import pytest
import torch

from bondlab.configs import JBondConfig
from bondlab.lm.jbond import train_jbond
from micro_helpers import TOK, micro_gpt, reward_fn  # tests/micro_helpers.py


def _ev(model):
    with torch.no_grad():
        p = torch.cat([q.flatten() for q in model.parameters()]).double()
    return {"quantile": 0.0, "kl": 0.0, "norm": float(p.norm())}


def test_resume_continues_exactly():
    ref = micro_gpt(3)
    cfg = JBondConfig(keep_going=True, max_steps=6, batch_prompts=8, eval_every=2, max_new_tokens=6, seed=4,
                      warmup=3, lr=1e-2)
    full = train_jbond(ref, TOK, [""], reward_fn, cfg, evaluate=_ev, progress=False)
    part = train_jbond(ref, TOK, [""], reward_fn, JBondConfig(**{**cfg.__dict__, "max_steps": 3}), evaluate=_ev,
                       progress=False)
    rest = train_jbond(ref, TOK, [""], reward_fn, cfg, evaluate=_ev, resume=part.state, progress=False)
    assert rest.steps == 6 and [h["step"] for h in rest.history] == [4, 6]
    assert all(torch.equal(p, q) for p, q in zip(rest.policy.parameters(), full.policy.parameters()))
    assert all(torch.equal(p, q) for p, q in zip(rest.anchor.parameters(), full.anchor.parameters()))
    drop = (lambda h: {k: v for k, v in h.items() if k != "wall_s"})
    assert [drop(h) for h in rest.history] == [drop(h) for h in full.history if h["step"] in (4, 6)]
    assert rest.train_s >= part.train_s
    # a fresh start from the stopped policy (the old keep-going) is not the same run
    fresh = train_jbond(ref, TOK, [""], reward_fn, JBondConfig(**{**cfg.__dict__, "max_steps": 3}), evaluate=_ev,
                        policy=part.policy, progress=False)
    assert any(not torch.equal(p, q) for p, q in zip(fresh.policy.parameters(), full.policy.parameters()))


def test_resume_refuses_what_cannot_continue():
    ref = micro_gpt(3)
    cfg = JBondConfig(keep_going=True, max_steps=2, batch_prompts=4, eval_every=2, max_new_tokens=6)
    res = train_jbond(ref, TOK, [""], reward_fn, cfg, progress=False)
    with pytest.raises(ValueError, match="max_steps"):
        train_jbond(ref, TOK, [""], reward_fn, cfg, resume=res.state, progress=False)
    with pytest.raises(ValueError, match="resume"):
        train_jbond(ref, TOK, [""], reward_fn, cfg, resume=object(), progress=False)
