"""bondlab.lm.converged against independent oracles: brute-force minimisation of jbond_objective_exact, the
stationarity condition with rbar_J from an (S, S) comparison, Best-of-n by enumerating n-tuples."""
import itertools
import math

import pytest
import torch

from bondlab.lm.converged import converged_rounds, jbond_round_exact
from bondlab.objectives import jbond_objective_exact

D = torch.float64


def _space(seed, S=10):
    """A random normalised log a and rewards with ties (levels drawn from 4 values)."""
    g = torch.Generator().manual_seed(seed)
    la = torch.log_softmax(2 * torch.randn(S, generator=g, dtype=D), 0)
    r = torch.randint(0, 4, (S,), generator=g).to(D)
    return la, r


def _rbar(la, r):
    """rbar_J(y) = -log16 P_{y'~a}[r(y') > r(y)]^2 from the (S, S) comparison matrix."""
    gt = (r[None, :] > r[:, None]).to(D)                      # [y, y']: r(y') > r(y)
    return -math.log(16) * (gt @ torch.exp(la)) ** 2


def _bon_enum(p, r, n):
    """Best-of-n by enumerating every n-tuple: the highest reward wins, ties split evenly among the tied draws."""
    S, out = len(p), [0.0] * len(p)
    for tup in itertools.product(range(S), repeat=n):
        w = math.prod(p[i] for i in tup)
        top = max(r[i] for i in tup)
        winners = [i for i in tup if r[i] == top]
        for i in winners:
            out[i] += w / len(winners)
    return torch.tensor(out, dtype=D)


def _brute(la, r, beta, gamma):
    """Minimise jbond_objective_exact over softmax logits with L-BFGS in float64."""
    z = la.clone().requires_grad_(True)
    opt = torch.optim.LBFGS([z], lr=1, max_iter=5000, tolerance_grad=1e-15, tolerance_change=1e-18,
                            history_size=50, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = jbond_objective_exact(torch.log_softmax(z, 0), la, r, beta, gamma)
        loss.backward()
        return loss
    for _ in range(5):
        opt.step(closure)
    return torch.log_softmax(z.detach(), 0)


@pytest.mark.parametrize("seed,beta,gamma", [(0, 0.3, 0.0), (1, 0.7, 0.2), (2, 0.0, 0.5), (3, 0.95, 0.0),
                                             (4, 0.5, 1.0)])
def test_matches_brute_force_minimisation(seed, beta, gamma):
    la, r = _space(seed)
    lp = jbond_round_exact(la, r, beta, gamma)
    assert lp.dtype == D and abs(torch.logsumexp(lp, 0).item()) < 1e-14
    lb = _brute(la, r, beta, gamma)
    ours = jbond_objective_exact(lp, la, r, beta, gamma).item()
    theirs = jbond_objective_exact(lb, la, r, beta, gamma).item()
    # the exact minimiser is no worse than L-BFGS's point, up to rounding of O(1) sums (~1e-15 each)
    gap = theirs - ours
    assert gap >= -1e-13
    assert gap <= 1e-9
    # L is (beta + gamma)-strongly convex in the l1 norm (Pinsker on KL(pi || a)), so at the minimiser
    # L(x) - L(x*) >= (beta + gamma)/2 ||x - x*||_1^2: L-BFGS's point can sit no further than this.
    l1 = (torch.exp(lp) - torch.exp(lb)).abs().sum().item()
    assert l1 <= math.sqrt(2 * (max(gap, 0.0) + 1e-13) / (beta + gamma))


@pytest.mark.parametrize("seed,beta,gamma", [(5, 0.4, 0.0), (6, 0.8, 0.3), (7, 0.0, 2.0), (8, 0.999, 0.0),
                                             (14, 1e-8, 0.0)])
def test_stationarity(seed, beta, gamma):
    """-(1-beta) t/pi + (beta+gamma)(log pi - log a + 1) - beta rbar = -lambda, the same for every y."""
    la, r = _space(seed, S=12)
    lp = jbond_round_exact(la, r, beta, gamma)
    t = _bon_enum(torch.exp(la).tolist(), r.tolist(), 2)
    terms = [-(1 - beta) * t / torch.exp(lp), (beta + gamma) * (lp - la + 1), -beta * _rbar(la, r)]
    lam = sum(terms)
    # log pi is solved to a few eps (Newton on log W stops at steps <= 1e-12, leaving ~step^2) and each term
    # is then a few float operations, so lambda's spread is a few eps times the largest term: allow 1e-12
    scale = max(x.abs().max().item() for x in terms)
    assert (lam.max() - lam.min()).item() <= 1e-12 * scale


def test_beta_zero_is_best_of_2():
    la, r = _space(9)
    lp = jbond_round_exact(la, r, 0.0)
    # the enumeration sums S^2 = 100 products (relative error <= 102 eps ~ 2e-14), the level formula a few
    # dozen operations: 1e-13 in log-probability covers both
    assert torch.allclose(lp, torch.log(_bon_enum(torch.exp(la).tolist(), r.tolist(), 2)), rtol=0, atol=1e-13)


@pytest.mark.parametrize("gamma", [0.0, 0.5])
def test_beta_one_is_the_tilted_anchor(gamma):
    la, r = _space(10)
    lp = jbond_round_exact(la, r, 1.0, gamma)
    want = la + _rbar(la, r) / (1 + gamma)                   # 10-term dot products and a logsumexp: ~10 eps
    assert torch.allclose(lp, want - torch.logsumexp(want, 0), rtol=0, atol=1e-13)


def test_zero_anchor_mass_stays_zero():
    """Where a = 0, pi = 0 (KL(pi || a) would be infinite); elsewhere the answer is that of the smaller space."""
    la, r = _space(11)
    keep = torch.ones(10, dtype=torch.bool)
    keep[3] = False
    la_cut = torch.log_softmax(la[keep], 0)
    la_full = torch.full_like(la, float("-inf"))
    la_full[keep] = la_cut
    for beta, gamma in ((0.6, 0.1), (0.0, 0.0), (1.0, 0.0)):
        lp = jbond_round_exact(la_full, r, beta, gamma)
        assert lp[3] == float("-inf")
        assert torch.allclose(lp[keep], jbond_round_exact(la_cut, r[keep], beta, gamma), rtol=0, atol=1e-12)


def test_rounds_at_beta_zero_land_on_best_of_2_to_the_m():
    """Best-of-2 of Best-of-2 is Best-of-4, of that Best-of-8: KL to Best-of-2^m is 0 up to float64 rounding."""
    la, _ = _space(12, S=4)
    r = torch.tensor([1.0, 0.0, 1.0, 2.0], dtype=D)          # a tie at the middle level
    out = converged_rounds(la, r, 0.0, 3)
    assert len(out["kl_pi_bon"]) == len(out["kl_bon_pi"]) == len(out["kl_pi_ref"]) == 3
    # log-probs agree to ~1e-15 relative, so each KL (sum p (log p - log q)) is within ~1e-14 of 0
    assert max(abs(x) for x in out["kl_pi_bon"] + out["kl_bon_pi"]) < 1e-12
    p, eps = torch.exp(la).tolist(), torch.finfo(D).eps
    # the enumeration sums S^n products of n factors (relative error <= (S^n + n) eps); the level formula
    # takes a few dozen float operations per entry and round (allow 100 eps per round)
    for rounds, lp in ((3, out["log_probs"]), (2, converged_rounds(la, r, 0.0, 2)["log_probs"])):
        n = 2 ** rounds
        rtol = (4 ** n + n + 100 * rounds) * eps
        assert torch.allclose(torch.exp(lp), _bon_enum(p, r.tolist(), n), rtol=rtol, atol=0)
    assert out["kl_pi_ref"][0] < out["kl_pi_ref"][1] < out["kl_pi_ref"][2]


def test_rounds_move_away_from_reference_with_beta():
    la, r = _space(13)
    out = converged_rounds(la, r, 0.5, 2, gamma=0.1)
    first = jbond_round_exact(la, r, 0.5, 0.1)
    assert torch.allclose(out["log_probs"], jbond_round_exact(first, r, 0.5, 0.1), rtol=0, atol=0)


@pytest.mark.parametrize("kw,name", [
    (dict(beta=-0.1), "beta"), (dict(beta=1.5), "beta"), (dict(beta=float("nan")), "beta"), (dict(beta=True), "beta"),
    (dict(gamma=-1.0), "gamma"), (dict(gamma=float("inf")), "gamma"),
    (dict(log_anchor=torch.zeros(4, dtype=D)), "log_anchor"), (dict(log_anchor=torch.zeros(2, 2, dtype=D)), "log_anchor"),
    (dict(log_anchor=[0.0]), "log_anchor"), (dict(rewards=torch.ones(3, dtype=D)), "rewards"),
    (dict(rewards=torch.tensor([0.0, float("nan"), 1.0, 2.0], dtype=D)), "rewards"),
])
def test_bad_inputs_name_the_argument(kw, name):
    args = dict(log_anchor=torch.full((4,), -math.log(4), dtype=D), rewards=torch.arange(4, dtype=D),
                beta=0.5, gamma=0.0)
    args.update(kw)
    with pytest.raises(ValueError, match=name):
        jbond_round_exact(**args)


@pytest.mark.parametrize("rounds", [0, 2.5, "x", 61])
def test_bad_rounds(rounds):
    la = torch.full((4,), -math.log(4), dtype=D)
    with pytest.raises(ValueError, match="rounds"):
        converged_rounds(la, torch.arange(4, dtype=D), 0.5, rounds)
    with pytest.raises(ValueError, match="log_ref"):
        converged_rounds(torch.zeros(4, dtype=D), torch.arange(4, dtype=D), 0.5, 1)
