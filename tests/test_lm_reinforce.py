"""REINFORCE on the micro GPT, with exact expectations over every micro sequence as the oracle."""
import pytest
import torch

from bondlab.lm.exact import exact_kl, micro_space
from bondlab.lm.reinforce import ReinforceConfig, reinforce_batch_loss, train_reinforce
from bondlab.objectives import reinforce_objective_exact
from micro_helpers import TOK, exact_log_probs, micro_gpt, reward_fn  # tests/micro_helpers.py

def _run(ref, beta_rl, steps=25, seed=3):
    cfg = ReinforceConfig(beta_rl=beta_rl, max_steps=steps, batch_prompts=16, samples_per_prompt=4, lr=1e-2,
                          warmup=0, max_new_tokens=6, eval_every=steps, seed=seed)
    return train_reinforce(ref, TOK, [""], reward_fn, cfg, progress=False)


def test_large_beta_rl_stays_near_pi_ref_and_small_beta_chases_reward():
    ref = micro_gpt(1)
    lr = exact_log_probs(ref)
    rewards = micro_space().rewards
    kls, gains = [], []
    for beta_rl in (0.0, 0.3, 10.0):
        lp = exact_log_probs(_run(ref, beta_rl).policy)
        kls.append(float(exact_kl(lp, lr)))
        gains.append(float(((lp.exp() - lr.exp()) * rewards).sum()))
    assert kls[0] > kls[1] > kls[2], kls
    assert kls[2] < kls[0] / 5, kls
    assert gains[0] > 0.3 and gains[0] > gains[2], gains


def test_sampled_gradient_matches_the_exact_objective_gradient():
    """Mean REINFORCE gradient over many batches vs autograd of -(E_pi[r] - beta KL(pi || pi_ref)) over every sequence."""
    ref = micro_gpt(2)
    policy = micro_gpt(3)
    beta_rl = 0.5
    params = list(policy.parameters())
    space = micro_space()
    lp = space.log_probs(policy)
    exact = torch.autograd.grad(reinforce_objective_exact(lp - torch.logsumexp(lp.detach(), 0), exact_log_probs(ref),
                                                          space.rewards, beta_rl), params)
    g = torch.Generator().manual_seed(0)
    acc = [torch.zeros_like(p) for p in params]
    reps = 40
    for _ in range(reps):
        loss, _ = reinforce_batch_loss(policy, ref, TOK, [""] * 64, reward_fn, beta_rl, 4, g, 6)
        for a, gr in zip(acc, torch.autograd.grad(loss, params)):
            a += gr / reps
    flat_e = torch.cat([e.flatten() for e in exact]).double()
    flat_s = torch.cat([a.flatten() for a in acc]).double()
    cos = float(flat_e @ flat_s / (flat_e.norm() * flat_s.norm()))
    assert cos > 0.9, cos
    assert float(flat_s.norm() / flat_e.norm()) == pytest.approx(1.0, abs=0.25)


def test_budget_and_determinism():
    ref = micro_gpt(4)
    a = _run(ref, 0.1, steps=4, seed=7)
    b = _run(ref, 0.1, steps=4, seed=7)
    for p, q in zip(a.policy.parameters(), b.policy.parameters()):
        assert torch.equal(p, q)
    c = _run(ref, 0.1, steps=4, seed=8)
    assert any(not torch.equal(p, q) for p, q in zip(a.policy.parameters(), c.policy.parameters()))
    cfg = ReinforceConfig(max_steps=1000, budget_s=1e-6, batch_prompts=4, max_new_tokens=6)
    res = train_reinforce(ref, TOK, [""], reward_fn, cfg, progress=False)
    assert res.stop_reason == "budget_s" and res.steps == 1 and res.history[-1]["step"] == 1


@pytest.mark.parametrize("kw, name", [({"beta_rl": -1}, "beta_rl"), ({"samples_per_prompt": 1}, "samples_per_prompt"),
                                      ({"budget_s": 0}, "budget_s"), ({"lr": float("nan")}, "lr")])
def test_config_rejects_bad_values(kw, name):
    with pytest.raises(ValueError, match=name):
        ReinforceConfig(**kw)
