"""J-BOND on tiny GPTs: parameter updates, the backward term's sign, the gamma ordering (exact KL over every
micro sequence as the oracle), the stop rule, the hard anchor, determinism, and the metrics it relies on."""
import copy
import dataclasses

import numpy as np
import pytest
import torch

from bondlab.lm.corpus import micro_reward
from bondlab.lm.exact import exact_kl, micro_space
from bondlab.lm.jbond import (JBondConfig, jbond_batch, jbond_batch_loss, quantile_target, train_jbond)
from bondlab.lm.metrics import RefPool, quantile_against, sequence_kl
from bondlab.lm.policy import LMPolicy
from bondlab.objectives import LOG16, forward_bond_loss
from helpers import gpt_chain, gpt_tol, logit_scale, sum_tol  # tests/helpers.py
from micro_helpers import TOK, exact_log_probs, micro_gpt, reward_fn  # tests/micro_helpers.py

def _snis_backward_objective(policy, batch, logp0, R0):
    """-E_pi[R] on the fixed batch by self-normalised importance sampling from the batch's policy pi_0, with
    R0 = r_J - (log pi_0 - log pi_anchor) held fixed: the backward objective J-BOND descends (Alg. 2)."""
    logw = policy.sequence_log_probs(TOK.encode_prompts(batch.prompts), batch.y) - logp0               # (B,)
    w = torch.softmax(logw, 0)
    return -(w * R0).sum()


def test_jbond_steps_change_every_parameter_and_lower_backward_objective():
    ref = micro_gpt(1)
    policy = copy.deepcopy(ref).train()
    g = torch.Generator().manual_seed(0)
    batch = jbond_batch(LMPolicy(policy, TOK, 6), LMPolicy(ref, TOK, 6), [""] * 64, reward_fn, g)
    B = batch.y.shape[0]
    before = {k: v.clone() for k, v in policy.state_dict().items()}
    logp0 = policy.sequence_log_probs(TOK.encode_prompts(batch.prompts), batch.y).detach()
    f64 = lambda v: torch.tensor(v, dtype=torch.float64)  # noqa: E731  (-log 16 in float64, as jbond_reward has it)
    r_j = torch.where(batch.r < torch.minimum(batch.r_anchor_1, batch.r_anchor_2), f64(-LOG16), f64(0.0))
    R0 = r_j - (logp0 - batch.logp_anchor).double()
    assert (r_j < 0).any() and (r_j == 0).any()
    # oracle 1: at pi_0 the backward J-BOND gradient is -(B/(B-1)) x the gradient of the SNIS objective's negative,
    # both in float64 (two graphs over differently shaped batches sum in other orders): each gradient entry is
    # a sum over B sequences of T tokens, each through K = gpt_chain terms, of size up to max|g| (``sum_tol``)
    pol64 = copy.deepcopy(policy).double()
    batch64 = dataclasses.replace(batch, logp_anchor=batch.logp_anchor.double())
    logp64 = pol64.sequence_log_probs(TOK.encode_prompts(batch.prompts), batch.y).detach()
    params = list(pol64.parameters())
    g_loss = torch.autograd.grad(jbond_batch_loss(LMPolicy(pol64, TOK, 6), batch64, beta=1.0, gamma=0.0), params)
    g_obj = torch.autograd.grad(_snis_backward_objective(pol64, batch64, logp64, r_j - (logp64 - batch64.logp_anchor)),
                                params, allow_unused=True)
    g_obj = [torch.zeros_like(a) if b is None else (B / (B - 1)) * b for a, b in zip(g_loss, g_obj)]
    scale = max(float(g.abs().max()) for g in [*g_loss, *g_obj])
    tol = sum_tol(B * batch.y.shape[1] * gpt_chain(pol64.cfg), scale)
    gap = max(float((a - b).abs().max()) for a, b in zip(g_loss, g_obj))
    assert gap <= tol, (gap, tol)
    # oracle 2: a few steps on the fixed batch lower that objective
    obj0 = float(_snis_backward_objective(policy, batch, logp0, R0).detach())
    opt = torch.optim.Adam(policy.parameters(), lr=1e-3)
    for _ in range(5):
        loss = jbond_batch_loss(LMPolicy(policy, TOK, 6), batch, beta=1.0, gamma=0.0)   # the backward objective alone
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        assert float(_snis_backward_objective(policy, batch, logp0, R0)) < obj0
    # every trainable tensor moved (beta = 0.5 also trains through the forward term)
    loss = jbond_batch_loss(LMPolicy(policy, TOK, 6), batch, beta=0.5, gamma=0.0)
    opt.zero_grad()
    loss.backward()
    opt.step()
    for name, p in policy.named_parameters():
        assert not torch.equal(p.detach(), before[name]), name
    # the sign: samples penalised with -log 16 lost log-probability relative to the others
    d = policy.sequence_log_probs(TOK.encode_prompts(batch.prompts), batch.y).detach() - logp0
    assert d[r_j < 0].mean() < d[r_j == 0].mean()


def test_forward_ablation_is_sft_on_the_better_anchor_sample():
    ref = micro_gpt(2)
    batch = jbond_batch(LMPolicy(ref, TOK, 6), LMPolicy(ref, TOK, 6), [""] * 16, reward_fn, torch.Generator().manual_seed(3))
    assert torch.equal(micro_reward(batch.y_best), torch.maximum(batch.r_anchor_1, batch.r_anchor_2))
    # in float64: the loss scores y and y_best in one padded batch, the oracle y_best alone (other sums);
    # each is a mean of sequence log-probs of T tokens, within gpt_tol (tests/helpers.py) of each other
    ref64 = copy.deepcopy(ref).double()
    batch64 = dataclasses.replace(batch, logp_anchor=batch.logp_anchor.double())
    with torch.no_grad():
        loss = jbond_batch_loss(LMPolicy(ref64, TOK, 6), batch64, beta=0.0, gamma=0.0)
        x = TOK.encode_prompts(batch.prompts)
        sft = forward_bond_loss(ref64.sequence_log_probs(x, batch.y_best))
    scale = logit_scale(ref64, torch.cat([x, batch.y], 1), torch.cat([x, batch.y_best], 1))
    assert abs(float(loss) - float(sft)) <= gpt_tol(ref64.cfg, max(batch.y.shape[1], batch.y_best.shape[1]), scale)
    assert JBondConfig(objective="forward").effective_beta == 0.0
    assert JBondConfig(objective="backward").effective_beta == 1.0


def test_larger_gamma_keeps_the_policy_nearer_the_anchor():
    """Anchor held fixed (eta = 0); the exact KL(pi || pi_anchor) over all 19,531 micro sequences is the oracle."""
    ref = micro_gpt(4)
    log_anchor = exact_log_probs(ref)
    kls = []
    for gamma in (0.0, 2.0, 8.0):
        cfg = JBondConfig(max_steps=25, batch_prompts=32, lr=1e-2, warmup=0, eta=0.0, gamma=gamma,
                          max_new_tokens=6, eval_every=25, keep_going=True, seed=5)
        res = train_jbond(ref, TOK, [""], reward_fn, cfg, progress=False)
        kls.append(float(exact_kl(exact_log_probs(res.policy), log_anchor)))
    assert kls[0] > kls[1] > kls[2] > 0, kls


def test_jbond_raises_the_exact_reward_quantile():
    ref = micro_gpt(6)
    space = micro_space()
    lr = exact_log_probs(ref)
    from bondlab.bon import quantiles
    _, p_le = quantiles(lr.exp().numpy(), space.rewards.numpy())
    cfg = JBondConfig(max_steps=30, batch_prompts=32, lr=1e-2, warmup=0, eta=0.1, max_new_tokens=6,
                      eval_every=30, keep_going=True, seed=1)
    res = train_jbond(ref, TOK, [""], reward_fn, cfg, progress=False)
    q = lambda lp: float((lp.exp().numpy() * p_le).sum())  # noqa: E731
    assert q(exact_log_probs(res.policy)) > q(lr) + 0.05


def test_stop_at_the_target_quantile_and_at_the_kl_budget():
    ref = micro_gpt(7)
    seq = iter([0.5, 0.7, 0.86, 0.95, 0.99, 0.99, 0.99])

    def fake_eval(policy):
        return {"quantile": next(seq), "kl": 0.1}

    cfg = JBondConfig(target_n=6, max_steps=6, batch_prompts=4, eval_every=1, max_new_tokens=6, warmup=0)
    res = train_jbond(ref, TOK, [""], reward_fn, cfg, evaluate=fake_eval, progress=False)
    assert quantile_target(6) == pytest.approx(6 / 7)
    assert res.stop_reason == "target" and res.steps == 2 and res.history[-1]["quantile"] == 0.86
    kls = iter([0.0, 1.0, 2.5, 3.0])
    res = train_jbond(ref, TOK, [""], reward_fn, JBondConfig(kl_budget=2.0, max_steps=3, batch_prompts=4, eval_every=1,
                                                             max_new_tokens=6),
                      evaluate=lambda p: {"quantile": 0.1, "kl": next(kls)}, progress=False)
    assert res.stop_reason == "kl_budget" and res.steps == 2
    seq2 = iter([0.99] * 4)
    res = train_jbond(ref, TOK, [""], reward_fn, JBondConfig(keep_going=True, max_steps=3, batch_prompts=4,
                                                             eval_every=1, max_new_tokens=6),
                      evaluate=lambda p: {"quantile": next(seq2), "kl": 99.0}, progress=False)
    assert res.stop_reason == "max_steps" and res.steps == 3 and len(res.history) == 4


def test_hard_anchor_is_replaced_every_period_and_ema_moves_it_partway():
    ref = micro_gpt(8)
    cfg = JBondConfig(anchor="hard", hard_period=3, max_steps=3, batch_prompts=8, max_new_tokens=6, lr=1e-2)
    res = train_jbond(ref, TOK, [""], reward_fn, cfg, progress=False)
    for (k, a), p in zip(res.anchor.state_dict().items(), res.policy.state_dict().values()):
        assert torch.equal(a, p), k
    cfg = JBondConfig(eta=0.5, max_steps=1, batch_prompts=8, max_new_tokens=6, lr=1e-2, warmup=0)
    res = train_jbond(ref, TOK, [""], reward_fn, cfg, progress=False)
    for a, p, r in zip(res.anchor.parameters(), res.policy.parameters(), ref.parameters()):
        torch.testing.assert_close(a, 0.5 * p.detach() + 0.5 * r.detach())


def test_same_seed_same_numbers():
    ref = micro_gpt(9)
    cfg = JBondConfig(max_steps=4, batch_prompts=8, max_new_tokens=6, eval_every=2, seed=11)
    ev = lambda p: {"quantile": 0.0, "kl": float(exact_kl(exact_log_probs(p), exact_log_probs(ref)))}  # noqa: E731
    a = train_jbond(ref, TOK, [""], reward_fn, cfg, evaluate=ev, progress=False)
    b = train_jbond(ref, TOK, [""], reward_fn, cfg, evaluate=ev, progress=False)
    c = train_jbond(ref, TOK, [""], reward_fn, JBondConfig(**{**cfg.__dict__, "seed": 12}), evaluate=ev, progress=False)
    assert [h["kl"] for h in a.history] == [h["kl"] for h in b.history]
    assert [h["loss"] for h in a.history[1:]] == [h["loss"] for h in b.history[1:]]
    assert [h["kl"] for h in a.history] != [h["kl"] for h in c.history]


def test_sequence_kl_on_own_samples_matches_the_exact_kl():
    """Mean of the per-token KL sums along y ~ pi equals the exact sequence KL(pi || pi_ref) (chain rule)."""
    ref = micro_gpt(10)
    policy = micro_gpt(11)
    exact = float(exact_kl(exact_log_probs(policy), exact_log_probs(ref)))
    prompts = TOK.encode_prompts([""] * 4000)
    y, _ = policy.generate(prompts, 6, torch.Generator().manual_seed(0))
    est = sequence_kl(policy, ref, prompts, y)
    assert float(est.mean()) == pytest.approx(exact, abs=4 * float(est.std()) / np.sqrt(4000))
    assert float(sequence_kl(ref, ref, prompts[:50], y[:50]).abs().max()) < 1e-6


def test_the_samplers_own_laws_give_the_teacher_forced_kl():
    """generate(..., log_probs=True) returns the next-token laws it sampled from; sequence_kl on them equals
    sequence_kl with the policy's teacher-forced pass, in float64 to the rounding of the two passes (gpt_tol
    per log-prob, summed over the T x V terms of a row, each weighted by p <= 1 and |log p - log q| < 2 scale)."""
    ref, policy = micro_gpt(10).double(), micro_gpt(11).double()
    prompts = TOK.encode_prompts([""] * 300)
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    y, mask, laws = policy.generate(prompts, 6, g1, log_probs=True)                    # (B, T), (B, T, V)
    y2, _ = policy.generate(prompts, 6, g2)
    assert torch.equal(y, y2)                                                          # the same draws
    assert laws.shape == (*y.shape, policy.cfg.vocab_size)
    torch.testing.assert_close(laws.exp().sum(-1), torch.ones(y.shape, dtype=laws.dtype), rtol=0, atol=1e-12)
    a = sequence_kl(policy, ref, prompts, y)
    b = sequence_kl(policy, ref, prompts, y, laws)
    scale = logit_scale(policy, torch.cat([prompts, y], 1))
    T, V = y.shape[1], policy.cfg.vocab_size
    tol = T * V * (2 * scale + 1) * gpt_tol(policy.cfg, 1, scale)
    assert float((a - b).abs().max()) <= tol
    with pytest.raises(ValueError, match="policy_log_probs"):
        sequence_kl(policy, ref, prompts, y, laws[:, :-1])


def test_quantile_against_counts_reference_rewards_at_or_below():
    pool = RefPool({"a": np.sort(np.array([0.1, 0.5, 0.5, 0.9])), "b": np.array([0.0, 0.0, 1.0, 1.0])}, 4)
    got = quantile_against(pool, ["a", "a", "a", "b", "b"], [0.5, 0.05, 1.0, 0.0, 0.5])
    brute = [np.mean(pool.rewards[p] <= r) for p, r in zip(["a", "a", "a", "b", "b"], [0.5, 0.05, 1.0, 0.0, 0.5])]
    np.testing.assert_array_equal(got, brute)
    with pytest.raises(ValueError, match="prompt"):
        quantile_against(pool, ["c"], [0.0])


@pytest.mark.parametrize("kw, name", [({"beta": 1.5}, "beta"), ({"eta": -0.1}, "eta"), ({"gamma": -1}, "gamma"),
                                      ({"target_n": 0.5}, "target_n"), ({"anchor": "soft"}, "anchor"),
                                      ({"objective": "both"}, "objective"), ({"batch_prompts": 1}, "batch_prompts"),
                                      ({"lr": 0.0}, "lr"), ({"max_steps": 0}, "max_steps")])
def test_config_rejects_bad_values(kw, name):
    with pytest.raises(ValueError, match=name):
        JBondConfig(**kw)
