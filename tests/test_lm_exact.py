"""Exact sequence-level maths on the micro GPT, against brute force, teacher forcing, numpy and sampling."""
import copy
import itertools

import numpy as np
import pytest
import torch
from scipy.stats import chisquare

from bondlab.bon import bon_log_probs
from bondlab.lm import (GPT, exact_bon_log_probs, exact_kl, jeffreys_to_target, kl_to_target,
                        load_pretrained, micro_space, reward_law, sample_bon_indices)
from bondlab.theory import bon_kl, bon_kl_bound
from helpers import EPS64, gpt_tol, logit_scale, sum_tol  # tests/helpers.py


@pytest.fixture(scope="module")
def micro():
    model, tok = load_pretrained("micro")
    return model, tok, micro_space()


def random_micro(seed):
    from bondlab.lm.pretrain import model_config
    torch.manual_seed(seed)
    m = GPT(model_config("micro")).eval()
    with torch.no_grad():
        for p in m.parameters():
            p.mul_(10.0)
    return m


def brute_force_space(L):
    """Every string of L emitted tokens (end + 5 symbols), cut after the first end: the distinct outcomes."""
    emit = [1, 3, 4, 5, 6, 7]
    seen = set()
    for s in itertools.product(emit, repeat=L):
        s = list(s)
        if 1 in s:
            k = s.index(1)
            s = s[:k + 1] + [0] * (L - k - 1)
        seen.add(tuple(s))
    return seen


@pytest.mark.parametrize("L", [2, 3, 4])
def test_enumeration_matches_brute_force(L):
    space = micro_space(L)
    got = {tuple(r) for r in space.completions.tolist()}
    assert len(got) == space.num_sequences == sum(5 ** k for k in range(L)) + 5 ** L
    assert got == brute_force_space(L)


def test_full_space_size_and_uniqueness(micro):
    _, _, space = micro
    assert space.num_sequences == 19531 and space.prefixes.shape == (5 ** 5, 6)
    assert torch.unique(space.completions, dim=0).shape[0] == 19531
    assert torch.equal(space.index_of(space.completions), torch.arange(19531))


def mass_tol(space, eps=EPS64):
    """|sum_y pi(y) - 1| in float64: each node's log-softmax is normalised to within V eps, L levels deep;
    exp of a sum of L log-probs is off by L eps |log pi(y)| relatively (weighted by pi(y): L eps log S at
    most); the sum of S probabilities adds S eps (``sum_tol``)."""
    L, V, S = space.length, space.tokenizer.vocab_size, space.num_sequences
    return eps * (L * V + L * np.log(S)) + sum_tol(S, 1.0, eps)


@pytest.mark.parametrize("method", ["tree", "flat"])
@pytest.mark.parametrize("which", ["shipped", "random"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_mass_sums_to_one_and_matches_teacher_forcing(micro, which, method, dtype):
    """Tree walk or flat pass against teacher forcing: the same log-probs up to rounding. float64 is the real
    check (the bound is ~1e-10); float32, the models' own dtype, must stay inside its own (looser) bound.
    The two paths sum different float terms in different orders (more so with two threads), so the
    tolerance is ``gpt_tol`` (helpers.py): L tokens, each off by at most K eps (1 + max|logit|)."""
    model, tok, space = micro
    if which == "random":
        model = random_micro(1)
    model = copy.deepcopy(model).to(dtype)
    eps = float(torch.finfo(dtype).eps)
    with torch.no_grad():
        lp = space.log_probs(model, method)
        bos = torch.full((space.num_sequences, 1), tok.bos_id)
        naive = model.sequence_log_probs(bos, space.completions).double()
    tol = gpt_tol(model.cfg, space.length, logit_scale(model, space.prefixes), eps)
    assert abs(float(torch.exp(lp).sum()) - 1.0) <= mass_tol(space)     # log-softmax and sums in float64 always
    assert float((lp - naive).abs().max()) <= tol
    assert float((torch.exp(lp) - torch.exp(naive)).abs().max()) <= tol   # |d exp(a)| <= exp(a) |da|, pi <= 1


@pytest.mark.parametrize("L", [1, 2, 4])
def test_shorter_spaces_sum_to_one_both_ways(L):
    model = random_micro(4).double()
    space = micro_space(L)
    with torch.no_grad():
        a, b = space.log_probs(model, "tree"), space.log_probs(model, "flat")
    assert abs(float(torch.exp(a).sum()) - 1.0) <= mass_tol(space)
    assert float((a - b).abs().max()) <= gpt_tol(model.cfg, L, logit_scale(model, space.prefixes))
    with pytest.raises(ValueError, match="method"):
        space.log_probs(model, "leaves")


def test_sampler_follows_exact_pi_ref(micro):
    model, tok, space = micro
    with torch.no_grad():
        p = torch.exp(space.log_probs(model)).numpy()
    D = 30000
    comp, _ = model.generate(torch.full((D, 1), tok.bos_id), 6, torch.Generator().manual_seed(0))
    counts = np.bincount(space.index_of(comp).numpy(), minlength=p.size)
    top = np.argsort(p)[::-1][:40]
    rest = np.setdiff1d(np.arange(p.size), top)
    f_obs = np.append(counts[top], counts[rest].sum())
    f_exp = np.append(p[top], p[rest].sum())
    assert chisquare(f_obs, f_exp / f_exp.sum() * D).pvalue > 1e-3


@pytest.mark.parametrize("n", [1, 2, 7])
def test_exact_bon_matches_numpy_float64_oracle(micro, n):
    model, _, space = micro
    with torch.no_grad():
        lp = space.log_probs(model)
    got = exact_bon_log_probs(lp, space.rewards, n).numpy()
    p = np.exp(lp.numpy())
    want = bon_log_probs(p / p.sum(), space.rewards.numpy(), n)
    assert np.allclose(got, want, atol=1e-9)
    assert abs(np.exp(got).sum() - 1) < 1e-9


@pytest.mark.parametrize("n", [3, 8])
def test_exact_bon_agrees_with_sampled_best_of_n(micro, n):
    model, _, space = micro
    with torch.no_grad():
        lp = space.log_probs(model)
    log_bon = exact_bon_log_probs(lp, space.rewards, n)
    levels, p_bon = reward_law(log_bon, space.rewards)
    D = 4000
    idx = sample_bon_indices(model, n, D, torch.Generator().manual_seed(n), space)
    obs = np.array([(space.rewards[idx] == v).sum().item() for v in levels])
    live = p_bon * D >= 5
    f_obs = np.append(obs[live], obs[~live].sum())
    f_exp = np.append(p_bon[live], p_bon[~live].sum())
    assert chisquare(f_obs, f_exp / f_exp.sum() * D).pvalue > 1e-3
    # sequence level: the most likely Best-of-N sequences are drawn as often as pi_BoN says
    pb = torch.exp(log_bon).numpy()
    top = np.argsort(pb)[::-1][:10]
    freq = np.bincount(idx.numpy(), minlength=pb.size)[top] / D
    assert np.all(np.abs(freq - pb[top]) < 4 * np.sqrt(pb[top] * (1 - pb[top]) / D) + 1e-3)


@pytest.mark.parametrize("n", [2, 4, 16])
def test_bon_kl_exact_against_level_formula_and_bound(micro, n):
    model, _, space = micro
    with torch.no_grad():
        lp = space.log_probs(model)
    lp = lp - torch.logsumexp(lp, 0)
    kl = float(exact_kl(exact_bon_log_probs(lp, space.rewards, n), lp))
    p = np.exp(lp.numpy())
    assert kl == pytest.approx(bon_kl(p / p.sum(), space.rewards.numpy(), n), rel=1e-7, abs=1e-10)
    assert 0 < kl <= bon_kl_bound(n)


def test_exact_kl_values_and_errors():
    p = torch.log(torch.tensor([0.5, 0.5, 0.0], dtype=torch.float64))
    q = torch.log(torch.tensor([0.25, 0.25, 0.5], dtype=torch.float64))
    assert float(exact_kl(p, q)) == pytest.approx(np.log(2))
    assert float(exact_kl(q, p)) == float("inf")
    with pytest.raises(ValueError, match="1-D"):
        exact_kl(p, q[:2])
    with pytest.raises(ValueError, match="NaN"):
        exact_kl(p, torch.tensor([0.0, float("nan"), 0.0], dtype=torch.float64))
    with pytest.raises(ValueError, match="direction"):
        kl_to_target(random_micro(0), q, "sideways")
    with pytest.raises(ValueError, match="length"):
        micro_space(7)


def test_exact_gradient_matches_finite_differences(micro):
    ref, _, space = micro
    with torch.no_grad():
        target = exact_bon_log_probs(space.log_probs(ref), space.rewards, 4)
    pol = copy.deepcopy(random_micro(2)).double()
    for direction in ("backward", "forward"):
        pol.zero_grad()
        kl_to_target(pol, target, direction, space).backward()
        w = pol.blocks[0].attn.qkv.weight
        for (i, j) in [(0, 0), (5, 3), (17, 20)]:
            h = 1e-6
            with torch.no_grad():
                w[i, j] += h
                up = float(kl_to_target(pol, target, direction, space))
                w[i, j] -= 2 * h
                down = float(kl_to_target(pol, target, direction, space))
                w[i, j] += h
            assert float(w.grad[i, j]) == pytest.approx((up - down) / (2 * h), rel=1e-4, abs=1e-8)


def test_exact_training_moves_the_model_toward_best_of_n(micro):
    ref, _, space = micro
    with torch.no_grad():
        target = exact_bon_log_probs(space.log_probs(ref), space.rewards, 4)
    pol = copy.deepcopy(ref).train()
    opt = torch.optim.Adam(pol.parameters(), lr=3e-3)
    losses = []
    for _ in range(15):
        opt.zero_grad()
        loss = jeffreys_to_target(pol, target, 0.5, space)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.6 * losses[0]
    with torch.no_grad():
        mean_r = lambda lp: float((torch.exp(lp) * space.rewards).sum())
        assert mean_r(space.log_probs(pol)) > mean_r(space.log_probs(ref)) + 0.2
