"""bondlab.lm.token_kl against independent oracles: the exact sequence KL of the micro space (enumeration,
autograd, float64) and its gradient; finite differences; and the shortcuts that must NOT match."""
import itertools

import pytest
import torch

from bondlab.lm.exact import exact_kl, micro_space
from bondlab.lm.model import GPT
from bondlab.lm.pretrain import model_config
from bondlab.lm.token_kl import kl_surrogate, kl_to_go, vocab_kl


def peaky_gpt(seed) -> GPT:
    """A float64 micro GPT with weights large enough that its laws are far from uniform (large KLs)."""
    torch.manual_seed(seed)
    m = GPT(model_config("micro")).double().eval()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64) * 0.4)
    return m


def laws(space, pi, q):
    """Everything along every sequence of the space: pi's (S, L, V) with grad, q's (S, L, V), ids, mask."""
    comp = space.completions                                                       # (S, L)
    prompts = torch.full((comp.shape[0], 1), space.tokenizer.bos_id, dtype=torch.long)
    lp, mask = pi.vocab_log_probs(prompts, comp)
    with torch.no_grad():
        lq, _ = q.vocab_log_probs(prompts, comp)
    return lp, lq, comp, mask


def grads(model, scalar):
    return torch.cat([g.reshape(-1) for g in torch.autograd.grad(scalar, list(model.parameters()))])


def exact_grad(space, pi, q):
    """Oracle: autograd of the sequence-level KL over the enumerated space (no per-token maths involved)."""
    kl = exact_kl(space.log_probs(pi), space.log_probs(q).detach())
    return kl, grads(pi, kl)


def tol(ref):  # float64: ~1e5 terms of size <= |ref|max, eps 2.2e-16 each -> 1e-10 relative is ~500x margin
    return 1e-9 * float(ref.abs().max())


@pytest.fixture(scope="module")
def setup():
    space = micro_space(4)                                                        # 781 sequences
    return space, peaky_gpt(1), peaky_gpt(2)


def test_value_is_the_sequence_kl(setup):
    space, pi, q = setup
    lp, lq, y, mask = laws(space, pi, q)
    _, kl_seq = kl_surrogate(lp, lq, y, mask, baseline=False)                     # (S,)
    w = space.log_probs(pi).detach().exp()
    kl = exact_kl(space.log_probs(pi).detach(), space.log_probs(q).detach())
    assert float(kl) > 0.3                                                        # a test with something to find
    assert abs(float((w * kl_seq).sum()) - float(kl)) <= 1e-10 * max(1.0, float(kl))


def test_expected_gradient_is_exact(setup):
    space, pi, q = setup
    _, g_exact = exact_grad(space, pi, q)
    lp, lq, y, mask = laws(space, pi, q)
    w = space.log_probs(pi).detach().exp()                                        # (S,) pi(y), held fixed
    surrogate, _ = kl_surrogate(lp, lq, y, mask, baseline=False)                  # (S,)
    g_est = grads(pi, (w * surrogate).sum())                                      # E_y[grad L(y)]
    assert torch.allclose(g_est, g_exact, rtol=0, atol=tol(g_exact))


def test_shortcuts_are_biased(setup):
    """The direct path alone misses the score path; the check above therefore has teeth."""
    space, pi, q = setup
    _, g_exact = exact_grad(space, pi, q)
    lp, lq, y, mask = laws(space, pi, q)
    w = space.log_probs(pi).detach().exp()
    direct = vocab_kl(lp, lq, mask).sum(-1)                                       # (S,)
    g_direct = grads(pi, (w * direct).sum())
    assert float((g_direct - g_exact).norm()) > 0.05 * float(g_exact.norm())


def test_leave_one_out_baseline_stays_unbiased():
    """K = 2 samples per group, every ordered pair of the length-2 space enumerated (31^2 groups)."""
    space = micro_space(2)
    pi, q = peaky_gpt(3), peaky_gpt(4)
    _, g_exact = exact_grad(space, pi, q)
    lp, lq, y, mask = laws(space, pi, q)
    S = y.shape[0]
    pairs = torch.tensor(list(itertools.product(range(S), repeat=2)))             # (S^2, 2)
    w = space.log_probs(pi).detach().exp()
    surrogate, _ = kl_surrogate(lp[pairs], lq[pairs], y[pairs], mask[pairs], baseline=True)   # (S^2, 2)
    weight = w[pairs[:, 0]] * w[pairs[:, 1]]                                      # (S^2,)
    g_est = grads(pi, (weight[:, None] * surrogate).mean(-1).sum())
    assert torch.allclose(g_est, g_exact, rtol=0, atol=tol(g_exact))


def test_vocab_kl_against_finite_differences():
    """d k_t / d logits by central differences in float64 (step 1e-6: error ~h^2 + eps/h ~ 1e-10)."""
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 4, 6, generator=g, dtype=torch.float64, requires_grad=True)
    logq = torch.log_softmax(torch.randn(3, 4, 6, generator=g, dtype=torch.float64), -1)
    mask = torch.ones(3, 4, dtype=torch.bool)
    f = lambda z: vocab_kl(torch.log_softmax(z, -1), logq, mask).sum()             # noqa: E731
    (auto,) = torch.autograd.grad(f(logits), logits)
    num = torch.zeros_like(auto)
    h = 1e-6
    with torch.no_grad():
        for idx in itertools.product(*map(range, logits.shape)):
            e = torch.zeros_like(logits)
            e[idx] = h
            num[idx] = (f(logits + e) - f(logits - e)) / (2 * h)
    assert torch.allclose(auto, num, rtol=0, atol=1e-7)


def test_never_emitted_tokens_give_no_nan():
    logits = torch.tensor([[[0.0, 1.0, float("-inf")]]], requires_grad=True)      # (1, 1, 3)
    logq = torch.log_softmax(torch.tensor([[[1.0, 0.0, float("-inf")]]]), -1)
    k = vocab_kl(torch.log_softmax(logits, -1), logq, torch.ones(1, 1, dtype=torch.bool))
    k.sum().backward()
    p = torch.softmax(torch.tensor([0.0, 1.0]), 0)
    want = float((p * (p.log() - torch.log_softmax(torch.tensor([1.0, 0.0]), 0))).sum())
    assert abs(float(k.detach()) - want) < 1e-6 and torch.isfinite(logits.grad).all()


def test_kl_to_go_and_bad_input():
    k = torch.tensor([[1.0, 2.0, 3.0, 0.0]])
    assert kl_to_go(k).tolist() == [[5.0, 3.0, 0.0, 0.0]]
    lp = torch.log_softmax(torch.zeros(1, 2, 3), -1)
    with pytest.raises(ValueError, match="mask"):
        vocab_kl(lp, lp, torch.ones(1, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match="logq"):
        vocab_kl(lp, lp[..., :2], torch.ones(1, 2, dtype=torch.bool))
    with pytest.raises(ValueError, match="K = 1"):
        kl_surrogate(lp[None], lp[None], torch.zeros(1, 1, 2, dtype=torch.long), torch.ones(1, 1, 2, dtype=torch.bool))
