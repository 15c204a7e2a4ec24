"""The vectorised exact trainers (bondlab.fit_exact) against the torch trainers they replace in the panels:
same histories and final policies, for every objective, both families, hard and EMA anchors, J-BOND with and
without its regulariser. Both sides are float64; the only differences are rounding (autograd vs the written-out
gradient), carried through <= 80 Adam steps, so they stay many orders of magnitude below 1e-9."""
import numpy as np
import pytest

from bondlab.fit_exact import fit_bond_exact, iterative_exact, jbond_exact
from bondlab.jbond import IterativeConfig, ToyJBondConfig, train_iterative, train_toy_jbond
from bondlab.spaces import grid_mixture
from bondlab.train import METRICS, BondConfig, objective_beta, train_bond

TOL = dict(rtol=1e-9, atol=1e-12)


def bimodal(k=31):
    return grid_mixture(k=k, weights=(0.5, 0.5), means=(-0.5, 0.5), scales=(0.15, 0.15), reward="two_peaks")


def same_history(got, want):
    for m in METRICS:
        np.testing.assert_allclose(got[m], want[m], **TOL, err_msg=m)


@pytest.mark.parametrize("family", ["tabular", "gaussian"])
def test_three_objectives_at_once_equal_three_train_bond_runs(family):
    space, objectives, beta = bimodal(), ("forward", "backward", "jeffreys"), 0.3
    probs, hists = fit_bond_exact(space, 4, [objective_beta(o, beta) for o in objectives], family, steps=40,
                                  lr=0.1, beta=beta)
    assert probs.shape == (3, space.ref_probs.size)
    for i, obj in enumerate(objectives):
        pol, want = train_bond(space, BondConfig(objective=obj, beta=beta, n=4, family=family, steps=40, lr=0.1))
        np.testing.assert_allclose(probs[i], pol.probs_np(), **TOL)
        same_history(hists[i], want)


@pytest.mark.parametrize("eta", [0.0, 0.05])
@pytest.mark.parametrize("family", ["tabular", "gaussian"])
def test_iterative_equals_train_iterative(eta, family):
    space = grid_mixture(k=31, weights=(0.6, 0.4), reward="linear")
    probs, got = iterative_exact(space, 2, 3, 15, eta, 0.5, family, lr=0.1)
    pol, want = train_iterative(space, IterativeConfig(n=2, rounds=3, period=15, eta=eta, beta=0.5, lr=0.1,
                                                       family=family))
    np.testing.assert_allclose(probs, pol.probs_np(), **TOL)
    same_history(got, want)
    assert got["bon_equivalent_n"] == want["bon_equivalent_n"] and got["round_end"] == want["round_end"]


@pytest.mark.parametrize("gamma", [0.0, 2.0])
@pytest.mark.parametrize("family", ["tabular", "gaussian"])
def test_jbond_equals_train_jbond(gamma, family):
    space = grid_mixture(k=31, weights=(0.6, 0.4), reward="linear")
    probs, got = jbond_exact(space, 0.5, gamma, 0.05, 40, lr=0.05, family=family)
    pol, want = train_toy_jbond(space, ToyJBondConfig(beta=0.5, gamma=gamma, eta=0.05, gradient="exact", steps=40,
                                               lr=0.05, family=family))
    np.testing.assert_allclose(probs, pol.probs_np(), **TOL)
    same_history(got, want)


@pytest.mark.parametrize("call, name", [
    (lambda s: fit_bond_exact(s, 4, [0.5], "cubic"), "family"),
    (lambda s: fit_bond_exact(s, 4, [1.5]), "betas"),
    (lambda s: fit_bond_exact(s, 4, [0.5], steps=0), "steps"),
    (lambda s: fit_bond_exact(s, 4, [0.5], lr=-1), "lr"),
    (lambda s: iterative_exact(s, 2, 0, 10), "rounds"),
    (lambda s: iterative_exact(s, 2, 2, 10, eta=2.0), "eta"),
    (lambda s: jbond_exact(s, gamma=-1.0), "gamma"),
    (lambda s: fit_bond_exact("space", 4, [0.5]), "space")])
def test_bad_input_names_the_argument(call, name):
    space = grid_mixture(k=11)
    with pytest.raises(ValueError, match=name):
        call(space if name != "space" else None)


def test_bon_log_of_the_trainers_is_bon_log_probs():
    """The trainers take the rewards' sort once (``_bon_log``) and call it every step. For a real n it is
    :func:`bondlab.bon.bon_log_probs`'s own computation, bit for bit; for a whole n <= 8 (J-BOND's 2, the panel's
    n) the sum-of-powers form, equal to float64 rounding: both take F from cumulative sums over the L levels,
    each good to L ulps (Higham), and a log adds an ulp of its value, so |diff| <= L eps (1 + |log pi|). Ties,
    zero-probability outcomes (-inf in both), very unequal policies, and every call the same."""
    from bondlab.bon import bon_log_probs
    from bondlab.fit_exact import _bon_log
    rng = np.random.default_rng(0)
    for r in (np.round(rng.normal(size=40), 1), np.linspace(-1.0, 1.0, 61)):   # ties (about 30 levels), none
        levels = np.unique(r).size
        for n in (1, 2, 2.5, 3, 4, 8, 1e6):
            fn = _bon_log(r, n)
            for alpha in (0.05, 1.0, 20.0):
                p = rng.dirichlet(np.full(r.size, alpha))
                p[rng.integers(r.size, size=3)] = 0.0
                p /= p.sum()
                got, want = fn(p), bon_log_probs(p, r, n)
                if n != int(n) or n > 8:
                    np.testing.assert_array_equal(got, want)
                    continue
                assert np.array_equal(np.isneginf(got), np.isneginf(want)) and np.all(np.isfinite(want) | np.isneginf(want))
                live = np.isfinite(want)
                tol = levels * np.finfo(np.float64).eps * (1.0 + np.abs(want[live]))
                assert np.all(np.abs(got[live] - want[live]) <= tol), (n, alpha)
