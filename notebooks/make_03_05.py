"""Writes notebooks 03 and 05 without outputs: `.venv/bin/python notebooks/make_03_05.py`."""
import pathlib

import nbformat as nbf

HERE = pathlib.Path(__file__).parent

def nb(cells, path):
    book = nbf.v4.new_notebook()
    book.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    book.cells = [nbf.v4.new_markdown_cell(c[1]) if c[0] == "md" else nbf.v4.new_code_cell(c[1]) for c in cells]
    nbf.write(book, path)

SETUP = """import matplotlib.pyplot as plt
import numpy as np
import torch

import bondlab as B
from bondlab.smoke import pick
torch.set_num_threads(1)   # tiny tensors: one thread is fastest
%matplotlib inline"""

nb03 = [
("md", """# 03 · Forward vs backward KL: fitting a policy to Best-of-N

BOND (Sessa et al. 2024, Sec. 4) distils the Best-of-N distribution π_BoN into a policy π by minimising a divergence:

* **forward** KL(π_BoN ‖ π): SFT on Best-of-N samples. *Mode covering*: π must put mass wherever π_BoN does.
* **backward** KL(π ‖ π_BoN): policy gradient with reward (N−1)·log p≤(y) − log(π/π_ref). *Mode seeking*: π may drop modes, and its entropy collapses.
* **Jeffreys** J_β = (1−β)·forward + β·backward (the paper uses β = 0.5).

A full softmax can represent π_BoN exactly, so every objective reaches it. The difference shows when the policy family is
*restricted*: here a discretised Gaussian (a mean and a log-scale), which cannot be bimodal."""),
("code", SETUP),
("code", """from bondlab.widgets.distill import bimodal_space
from bondlab.plots.distill import plot_fits, plot_history

N = 4
space = bimodal_space(weight=0.5)            # pi_ref: two modes, both rewarded ('two_peaks')
target = B.bon_probs(space.ref_probs, space.rewards, N)
print(f"pi_BoN mass on the left mode: {target[space.x < 0].sum():.3f}, entropy {B.entropy(target):.3f} nats")"""),
("md", """## Exact fits of a restricted family
`train_bond(..., gradient="exact")` differentiates the divergence over the whole space (61 outcomes), so the only
approximation is the family itself."""),
("code", """from bondlab.train import BondConfig, train_bond

steps = pick(400, 80)
fits, runs = {}, {}
for obj in ("forward", "backward", "jeffreys"):
    pol, runs[obj] = train_bond(space, BondConfig(objective=obj, beta=0.5, n=N, family="gaussian", steps=steps, lr=0.1))
    fits[obj] = pol.probs_np()

fig, axes = plt.subplots(1, 3, figsize=(15, 3.6))
plot_fits(space.x, target, fits, ref=space.ref_probs, ax=axes[0])
plot_history(runs, "fwd_kl", log=True, ax=axes[1])
plot_history(runs, "entropy", ax=axes[2])
axes[2].axhline(B.entropy(target), color="0.4", ls=":")
for obj, h in runs.items():
    print(f"{obj:9s} KL(BoN||pi) {h['fwd_kl'][-1]:7.3f}   KL(pi||BoN) {h['bwd_kl'][-1]:7.3f}   entropy {h['entropy'][-1]:.3f}")"""),
("md", """The forward fit spreads over both modes (high entropy, moderate forward KL, huge backward KL: it puts mass in the
gap). The backward fit picks one mode (low entropy). Jeffreys sits in between, moved by β.

## A tabular policy reaches π_BoN under every objective"""),
("code", """for obj in ("forward", "backward", "jeffreys"):
    pol, h = train_bond(space, BondConfig(objective=obj, n=N, family="tabular", steps=pick(600, 150), lr=0.1))
    print(f"{obj:9s} KL(BoN||pi) = {h['fwd_kl'][-1]:.2e}   KL(pi||BoN) = {h['bwd_kl'][-1]:.2e}")"""),
("md", """## The paper's sampled estimators
Forward: SFT on true Best-of-N samples from π_ref. Backward: REINFORCE with a leave-one-out baseline and reward
(N−1)·log p̂≤(y) − (log π − log π_ref), where p̂≤ comes from k = 16 reference samples (clamped at 1/(2k), so log 0
never appears) or from a learned quantile model (App. B.1). The same loss functions (`bondlab.objectives`) drive the
tiny GPT."""),
("code", """hists = {"exact": train_bond(space, BondConfig(objective="jeffreys", n=N, steps=steps))[1]}
for q in ("exact", "mc", "learned"):
    cfg = BondConfig(objective="jeffreys", n=N, gradient="sampled", quantile=q, k=16, batch=64, steps=steps)
    hists[f"sampled, {q} p≤"] = train_bond(space, cfg)[1]
fig, axes = plt.subplots(1, 2, figsize=(11, 3.5))
plot_history(hists, "fwd_kl", log=True, ax=axes[0])
plot_history(hists, "bwd_kl", log=True, ax=axes[1]);"""),
("md", """### Is the sampled gradient unbiased?
Average the sampled backward gradient over many seeds and compare it with exact gradients. With exact quantiles it
is unbiased for KL(π ‖ π_ref·p≤^(N−1)/Z), *not* for KL(π ‖ π_BoN): Theorem 1's tie/collision term (B) is dropped.
With Monte Carlo quantiles the log of an estimate adds a Jensen bias (tests/test_objectives.py checks both)."""),
("code", """from bondlab import objectives as O
from bondlab.divergences import grad_backward_kl_logits

tie = B.tie_example()                               # six outcomes, tied levels: term (B) is visible
theta = torch.zeros(6, dtype=torch.float64)
pi = torch.softmax(theta, 0).numpy()
_, p_le = B.quantiles(tie.ref_probs, tie.rewards)
q = tie.ref_probs * p_le ** (N - 1); q /= q.sum()
gen, grads = torch.Generator().manual_seed(0), []
for _ in range(pick(3000, 400)):
    th = theta.clone().requires_grad_(True)
    lp = torch.log_softmax(th, 0)
    y = torch.multinomial(torch.tensor(pi), 16, replacement=True, generator=gen)
    O.backward_bond_loss(lp[y], torch.tensor(np.log(tie.ref_probs))[y], torch.tensor(np.log(p_le))[y], N).backward()
    grads.append(th.grad.numpy())
g = np.array(grads)
print("mean sampled    ", g.mean(0).round(4), " ± ", (g.std(0) / np.sqrt(len(g))).round(4))
print("exact, no (B)   ", grad_backward_kl_logits(pi, q).round(4))
print("exact, true BoN ", grad_backward_kl_logits(pi, B.bon_probs(tie.ref_probs, tie.rewards, N)).round(4))"""),
("md", """## Try it: β, N, the mixture weight and the family
Each change runs three exact fits (a fraction of a second each)."""),
("code", """from bondlab.widgets.distill import distill_panel

panel = distill_panel(steps=pick(200, 40))
panel.widget"""),
("md", """## Summary
* Forward KL (SFT on Best-of-N samples) covers every mode of π_BoN; backward KL (policy gradient on log p≤) seeks one
  mode and loses entropy; Jeffreys trades between them with β.
* With a full softmax all three reach π_BoN; a restricted family makes the choice visible.
* The sampled estimators are unbiased for a slightly different target: term (B) dropped, and log p̂≤ biased when the
  quantile is estimated from k samples.

## Exercises
1. Set N = 1 in the panel. What do the three fits converge to, and why do the KLs to π_BoN stop depending on β?
2. Move the mixture weight to 0.8. Which mode does the backward fit choose, and does it depend on where it starts?
3. Rerun the unbiasedness cell with Monte Carlo quantiles (`bondlab.quantile_estimates.mc_p_le`, k = 4). How far does
   the mean move, and in which direction on the lowest outcomes?"""),
]

nb05 = [
("md", """# 05 · Iterative BOND and J-BOND

Distilling Best-of-N for a large N in one go is costly (N samples per step) and fragile (quantile errors are raised
to the power N−1). Iterative BOND (Sessa et al. 2024, Sec. 4.3) distils **Best-of-n of an anchor** and then moves the
anchor to the policy. Best-of-n applied M times is exactly Best-of-n^M, so M rounds reach Best-of-n^M with n samples per
step. J-BOND (Sec. 5, Algorithm 2) is the cheap version: n = 2, one policy sample and two anchor samples per prompt,
an EMA anchor and an extra regulariser γ·KL(π ‖ π_anchor)."""),
("code", SETUP),
("code", """from bondlab.jbond import IterativeConfig, JBondConfig, train_iterative, train_jbond
from bondlab.plots.distill import plot_history, plot_quantile_vs_step, plot_reward_vs_kl

space = B.grid_mixture(k=101, weights=(0.6, 0.4), reward="linear")
n, M, T = 2, 4, pick(200, 60)"""),
("md", """## Hard anchor every T steps: M rounds track Best-of-n^M"""),
("code", """pol, h = train_iterative(space, IterativeConfig(n=n, rounds=M, period=T, lr=0.1))
fig, axes = plt.subplots(1, 2, figsize=(12, 3.6))
plot_quantile_vs_step(h, space, bon_ns=h["bon_equivalent_n"], ax=axes[0])
plot_quantile_vs_step(h, space, key="kl_ref", bon_ns=h["bon_equivalent_n"], ax=axes[1])
for m, end in zip(h["bon_equivalent_n"], h["round_end"]):
    print(f"after round ending at step {end + 1:4d}: quantile {h['quantile'][end]:.4f}"
          f"  vs Best-of-{m:g} {B.bon_expected_quantile(space.ref_probs, space.rewards, m):.4f}")
print("final KL(BoN_{n^M} || pi) =", B.kl(B.bon_probs(space.ref_probs, space.rewards, n ** M), pol.probs_np()))"""),
("md", """## EMA anchor
Instead of hard resets the anchor follows the policy every step: θ_a ← (1−η)·θ_a + η·θ. The target keeps moving, so
the quantile climbs smoothly and does not stop at a Best-of-n^M level."""),
("code", """runs = {f"η={eta}": train_iterative(space, IterativeConfig(n=n, rounds=1, period=M * T, eta=eta, lr=0.1))[1]
        for eta in (0.01, 0.05)}
fig, axes = plt.subplots(1, 2, figsize=(12, 3.6))
plot_history(runs, "quantile", ax=axes[0]); plot_history(runs, "kl_ref", ax=axes[1]);"""),
("md", """## J-BOND: exact-gradient and sampled-gradient runs side by side
`gradient="exact"` differentiates the expectation of the J-BOND loss over the whole space (anchor held fixed);
`gradient="sampled"` runs Algorithm 2 with 64 prompts per step. Both use the same EMA anchor."""),
("code", """steps = pick(400, 80)
jb = {g: train_jbond(space, JBondConfig(gradient=g, steps=steps, eta=0.05, beta=0.5))[1] for g in ("exact", "sampled")}
fig, axes = plt.subplots(1, 3, figsize=(15, 3.6))
for ax, (g, hj) in zip(axes[:2], jb.items()):
    plot_quantile_vs_step(hj, space, bon_ns=(2, 4, 8, 16), label=f"J-BOND, {g} gradient", ax=ax)
plot_history(jb, "kl_ref", ax=axes[2]);"""),
("md", """## The regulariser's sign at work
The regulariser should *lower* KL(π ‖ π_anchor). Its gradient is E_π[∇log π · (log π − log π_anchor)]; arXiv v1
prints it with a minus sign, and descending that *raises* the KL. `v1_sign=True` reproduces the printed sign."""),
("code", """from bondlab import objectives as O
from bondlab.divergences import grad_backward_kl_logits

theta, theta_a = torch.tensor([0.5, 0.0, -0.3, 0.2]), torch.zeros(4)
pi, pa = torch.softmax(theta.double(), 0).numpy(), torch.softmax(theta_a.double(), 0).numpy()
exact = grad_backward_kl_logits(pi, pa)                       # grad KL(pi || pi_anchor)
gen = torch.Generator().manual_seed(0)
for v1 in (False, True):
    g = []
    for _ in range(pick(2000, 300)):
        th = theta.double().clone().requires_grad_(True)
        lp = torch.log_softmax(th, 0)
        y = torch.multinomial(torch.tensor(pi), 16, replacement=True, generator=gen)
        O.kl_regulariser_loss(lp[y], torch.tensor(np.log(pa))[y], v1_sign=v1).backward()
        g.append(th.grad.numpy())
    g = np.mean(g, 0)
    print(f"v1_sign={v1!s:5}: <mean sampled gradient, grad KL> = {g @ exact:+.4f}  (|grad KL|^2 = {exact @ exact:.4f})")

kw = dict(gradient="exact", steps=pick(200, 60), eta=0.05)
runs = {"γ=0": train_jbond(space, JBondConfig(gamma=0.0, **kw))[1],
        "γ=1": train_jbond(space, JBondConfig(gamma=1.0, **kw))[1],
        "γ=1, v1 sign": train_jbond(space, JBondConfig(gamma=1.0, v1_sign=True, **kw))[1]}
ax = plot_history(runs, "kl_anchor")
for k_, h_ in runs.items():
    print(f"{k_:13s} mean KL(pi || pi_anchor) = {np.mean(h_['kl_anchor']):.4f}")"""),
("md", """## Best-of-N matching vs reward maximising
REINFORCE with a KL penalty β_RL maximises E[r] − β_RL·KL(π ‖ π_ref) = β_RL·(log Z − KL(π ‖ π*)), with the optimum
π* = π_ref·exp(r/β_RL)/Z. So KL(π ‖ π*) measures how far each run still is from its optimum."""),
("code", """from bondlab.objectives import rlhf_optimal_probs
from bondlab.train import ReinforceConfig, train_reinforce

fronts = {"J-BOND": jb["sampled"]}
for beta_rl in (0.05, 0.2):
    pol, fronts[f"REINFORCE β_RL={beta_rl}"] = train_reinforce(space, ReinforceConfig(beta_rl=beta_rl, steps=steps))
    opt = rlhf_optimal_probs(space.ref_probs, space.rewards, beta_rl)
    print(f"β_RL={beta_rl}: KL(pi || pi*) = {B.kl(pol.probs_np(), opt):.4f} after {steps} steps;"
          f" pi* has E[r] = {opt @ space.rewards:.3f} at KL(pi* || pi_ref) = {B.kl(opt, space.ref_probs):.3f}")
plot_reward_vs_kl(fronts, space, bon_ns=(2, 4, 8, 16));"""),
("md", """## Try it: n, anchor period or η, γ and β"""),
("code", """from bondlab.widgets.iterative import iterative_panel

panel = iterative_panel(period=pick(100, 30), jbond_steps=pick(200, 40))
panel.widget"""),
("md", """## Summary
* Iterative BOND with a hard anchor reaches Best-of-n^M after M rounds: the markers line up with the exact
  Best-of-n^M quantile and KL.
* An EMA anchor climbs continuously; J-BOND (n = 2, one policy and two anchor samples) does the same with samples, and
  the exact and sampled runs agree in shape.
* The regulariser γ·KL(π ‖ π_anchor) must be *descended*: the sign printed in arXiv v1 pushes π away from its anchor.

## Exercises
1. With n = 2 and T small (e.g. 20 steps), do the rounds still reach Best-of-2^M? What goes wrong when a round has not
   converged before the anchor moves?
2. Sweep γ in {0, 0.5, 1, 2} with the sampled J-BOND and plot reward against KL(π ‖ π_ref). Does γ move the front or
   only the speed along it?
3. Compare J-BOND with REINFORCE at several β_RL: which KL does each need to reach the Best-of-8 reward?"""),
]

nb(nb03, str(HERE / "03_forward_vs_backward_kl.ipynb"))
nb(nb05, str(HERE / "05_iterative_bond_and_jbond.ipynb"))
