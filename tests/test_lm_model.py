"""The tiny GPT: KV cache vs recomputation, masked log-probs against a step-by-step oracle, the policy wrapper."""
import numpy as np
import pytest
import torch

from bondlab.lm import GPT, GPTConfig, LMPolicy, completion_mask, load_pretrained
from helpers import EPS64, gpt_tol, logit_scale, sum_tol  # tests/helpers.py


def finite_gap(a, b):
    """max |a - b| over the finite entries; the -inf logits (tokens never emitted) must sit in the same places."""
    assert torch.equal(torch.isfinite(a), torch.isfinite(b)) and torch.equal(a[~torch.isfinite(a)], b[~torch.isfinite(b)])
    return float((a - b).detach()[torch.isfinite(a)].abs().max())


def tiny(seed=0, **kw):
    torch.manual_seed(seed)
    cfg = dict(vocab_size=9, block_size=12, n_layer=2, n_head=2, n_embd=16, end_id=1, pad_id=0, no_emit=(0, 2))
    cfg.update(kw)
    m = GPT(GPTConfig(**cfg)).eval()
    with torch.no_grad():                      # larger weights: peaked, varied next-token laws
        for p in m.parameters():
            p.mul_(8.0)
    return m


def prompts(B, P, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(3, 9, (B, P), generator=g)
    x[:, 0] = 2
    return x


# Same generator, same uniforms: the cached and the recomputing sampler draw the same tokens unless a uniform
# lands between their two CDFs. In float32 the CDFs differ by ~1e-6 (other summation orders), a chance of
# ~1e-3 per test on some machine; in float64, ~1e-15: these run in float64.
@pytest.mark.parametrize("P", [1, 3])
def test_kv_cache_matches_recomputation(P):
    m = tiny().double()
    x = prompts(64, P)
    a, ma = m.generate(x, 8, torch.Generator().manual_seed(7), use_cache=True)
    b, mb = m.generate(x, 8, torch.Generator().manual_seed(7), use_cache=False)
    assert torch.equal(a, b) and torch.equal(ma, mb)
    assert (a == 1).any() and a.shape[1] >= 2           # some rows ended, some went on


def test_kv_cache_matches_recomputation_on_shipped_model():
    model, tok = load_pretrained("reviews")
    model = model.double()
    x = tok.encode_prompts(["the food was"] * 16)
    a, _ = model.generate(x, 20, torch.Generator().manual_seed(3), use_cache=True)
    b, _ = model.generate(x, 20, torch.Generator().manual_seed(3), use_cache=False)
    assert torch.equal(a, b)


def test_same_seed_same_samples_and_pad_after_end():
    m = tiny()
    x = prompts(32, 2)
    a, mask = m.generate(x, 10, torch.Generator().manual_seed(1))
    b, _ = m.generate(x, 10, torch.Generator().manual_seed(1))
    c, _ = m.generate(x, 10, torch.Generator().manual_seed(2))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(mask, completion_mask(a, 1))
    assert (a[~mask] == 0).all()                        # pad after the end token
    assert not ((a == 0) | (a == 2))[mask].any()        # never emits pad or bos


def oracle_log_prob(m, prompt, completion):
    """Step by step: full forward on the growing prefix, softmax of the last position."""
    seq, total = prompt.tolist(), 0.0
    for t in completion.tolist():
        with torch.no_grad():
            logits = m(torch.tensor([seq]))[0, -1].double()
        total += float(torch.log_softmax(logits, -1)[t])
        if t == m.cfg.end_id:
            break
        seq.append(t)
    return total


def test_sequence_log_probs_match_step_by_step_oracle():
    m = tiny().double()                          # float64: the batched and the step-by-step passes sum in other orders
    x = prompts(12, 2)
    y, _ = m.generate(x, 9, torch.Generator().manual_seed(4))
    with torch.no_grad():
        lp = m.sequence_log_probs(x, y)
    tol = gpt_tol(m.cfg, y.shape[1], logit_scale(m, torch.cat([x, y], 1)))
    for i in range(12):
        assert abs(float(lp[i]) - oracle_log_prob(m, x[i], y[i])) <= tol


def test_log_probs_ignore_tokens_after_end():
    m = tiny().double()
    x = prompts(4, 2)
    y = torch.tensor([[5, 1, 0, 0], [5, 6, 1, 0], [3, 4, 5, 6], [1, 0, 0, 0]])
    junk = y.clone()
    junk[0, 2:] = torch.tensor([7, 8])
    junk[3, 1:] = torch.tensor([1, 4, 4])
    lp, mask = m.token_log_probs(x, y)
    assert mask.tolist() == [[1, 1, 0, 0], [1, 1, 1, 0], [1, 1, 1, 1], [1, 0, 0, 0]]
    tol = gpt_tol(m.cfg, y.shape[1], logit_scale(m, torch.cat([x, y], 1), torch.cat([x, junk], 1)))
    with torch.no_grad():
        assert float((m.sequence_log_probs(x, y) - m.sequence_log_probs(x, junk)).abs().max()) <= tol
    assert (lp[~mask] == 0).all()


def test_samples_follow_the_model_distribution():
    """Sampled frequencies of 2-token completions against exp(sequence_log_probs) (chi-square)."""
    from scipy.stats import chisquare
    m = tiny(seed=3).double()                   # p sums to 1 to float64 rounding (the sampler draws in float64)
    D = 20000
    x = prompts(1, 2).repeat(D, 1)
    y, _ = m.generate(x, 2, torch.Generator().manual_seed(0))
    keys = (y[:, 0] * 16 + y[:, 1]).numpy()
    uniq, counts = np.unique(keys, return_counts=True)
    cand = torch.tensor([[a, b] for a in [1, 3, 4, 5, 6, 7, 8] for b in ([0] if a == 1 else [1, 3, 4, 5, 6, 7, 8])])
    p = torch.exp(m.sequence_log_probs(prompts(1, 2).repeat(len(cand), 1), cand)).detach().double().numpy()
    # every 2-token completion: each log-softmax is normalised to V eps, then a sum of len(cand) terms
    assert abs(p.sum() - 1.0) <= 2 * m.cfg.vocab_size * EPS64 + sum_tol(len(cand), 1.0)
    ck = (cand[:, 0] * 16 + cand[:, 1]).numpy()
    assert set(uniq) <= set(ck)
    obs = np.array([counts[uniq == k].sum() for k in ck])
    big = p * D >= 5
    f_obs = np.append(obs[big], obs[~big].sum())
    f_exp = np.append(p[big], p[~big].sum())
    assert chisquare(f_obs, f_exp / f_exp.sum() * f_obs.sum()).pvalue > 1e-3


def test_log_probs_are_differentiable():
    m = tiny()
    x = prompts(8, 2)
    y, _ = m.generate(x, 6, torch.Generator().manual_seed(0))
    m.sequence_log_probs(x, y).sum().backward()
    grads = [p.grad for p in m.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert sum(float(g.abs().sum()) for g in grads) > 0


def test_bad_inputs_raise_value_error():
    m = tiny()
    g = torch.Generator().manual_seed(0)
    with pytest.raises(ValueError, match="prompts"):
        m.generate(torch.zeros(2, 2), 3, g)
    with pytest.raises(ValueError, match="generator"):
        m.generate(prompts(2, 2), 3, np.random.default_rng(0))
    with pytest.raises(ValueError, match="block_size"):
        m.generate(prompts(2, 2), 20, g)
    with pytest.raises(ValueError, match="max_new_tokens"):
        m.generate(prompts(2, 2), 0, g)
    with pytest.raises(ValueError, match="temperature"):
        m.generate(prompts(2, 2), 3, g, temperature=0.0)
    with pytest.raises(ValueError, match="never emits"):
        m.sequence_log_probs(prompts(1, 2), torch.tensor([[2, 1]]))
    with pytest.raises(ValueError, match="n_embd"):
        GPTConfig(n_embd=10, n_head=4)
    with pytest.raises(ValueError, match="no_emit"):
        GPTConfig(no_emit=(1,))


def test_policy_mixed_length_prompts_and_anchor():
    model, tok = load_pretrained("reviews")
    model = model.double()                       # batched and alone sum in other orders: compare in float64
    pol = LMPolicy(model, tok, max_new_tokens=16)
    ps = ["the food was", "the movie", "the staff seemed", "the music"]
    y, mask = pol.sample(ps, torch.Generator().manual_seed(0))
    assert y.shape[0] == 4 and torch.equal(mask, completion_mask(y, tok.end_id))
    lp = pol.log_prob(ps, y)
    for i, p in enumerate(ps):   # the oracle: each prompt alone
        x = tok.encode_prompts([p])
        alone = model.sequence_log_probs(x, y[i:i + 1])
        tol = gpt_tol(model.cfg, y.shape[1], logit_scale(model, torch.cat([x, y[i:i + 1]], 1)))
        assert abs(float(lp[i].detach()) - float(alone.detach())) <= tol
    texts = pol.texts(ps, y)
    assert all(t.startswith(p + " ") for t, p in zip(texts, ps))
    anchor = pol.anchor()
    assert all(not p.requires_grad for p in anchor.parameters())
    assert torch.allclose(anchor.log_prob(ps, y), lp)
    lp.sum().backward()                                  # the policy keeps its gradients
    assert next(pol.parameters()).grad is not None
    with torch.no_grad():
        for p in pol.parameters():
            p.add_(0.01)
    before = [p.clone() for p in anchor.parameters()]
    anchor.ema_update_(pol, 0.25)
    for b, a, p in zip(before, anchor.parameters(), pol.parameters()):
        # lerp (b + w (p - b)) and 0.75 b + 0.25 p each round at most 3 times: within 3 eps (|b| + |p|) apart
        assert torch.all((a - (0.75 * b + 0.25 * p)).abs() <= 3 * EPS64 * (b.abs() + p.abs()))
    with pytest.raises(ValueError, match="eta"):
        anchor.ema_update_(pol, 1.5)


def test_forward_past_branches_like_full_forward():
    """Incremental forward with a repeated past (how the exact micro space walks its tree) equals a full
    causal forward over the branched sequences."""
    m = tiny().double()                          # the cached and the full pass sum in other orders
    x = prompts(3, 3)
    logits, past = m.forward_past(x)
    tol = gpt_tol(m.cfg, 1, logit_scale(m, x))  # one token's logits
    assert finite_gap(logits, m(x)) <= tol
    past = [(k.repeat_interleave(2, 0), v.repeat_interleave(2, 0)) for k, v in past]
    nxt = torch.tensor([[4], [5], [6], [7], [8], [3]])
    step, _ = m.forward_past(nxt, past)
    full = m(torch.cat([x.repeat_interleave(2, 0), nxt], dim=1))[:, -1]
    assert finite_gap(step[:, -1], full) <= gpt_tol(m.cfg, 1, logit_scale(m, torch.cat([x.repeat_interleave(2, 0), nxt], 1)))
    with pytest.raises(ValueError, match="one token"):
        m.forward_past(torch.tensor([[4, 5]] * 6), past)
