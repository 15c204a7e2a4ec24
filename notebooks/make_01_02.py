"""Write notebooks 01 and 02 (without outputs) from the cells below: ``python notebooks/make_01_02.py``.

The notebooks stay thin: markdown, then calls into bondlab (maths in bondlab.bon / theory /
quantile_estimates, pictures in bondlab.plots.bon, sliders in bondlab.widgets). Edit here, not in the .ipynb.
"""
from __future__ import annotations

import pathlib

from _cells import code, exercise, md, solution_code, solution_md, write  # notebooks/_cells.py

HERE = pathlib.Path(__file__).parent


NB01 = [
    md(r"""
# 01 · Best-of-N, exactly

**Best-of-N sampling**: draw $N$ answers from a reference policy $\pi_\mathrm{ref}$, score them with a reward
$r$, keep the best. On a finite space we never need to sample to know the law of the pick. Sessa et al. (2024,
BOND, Theorem 1) write it with $p_<(y) = P_{y'\sim\pi_\mathrm{ref}}[r(y') < r(y)]$ and
$p_\le(y) = P[r(y') \le r(y)]$:

$$\pi_\mathrm{BoN}(y) = \pi_\mathrm{ref}(y)\;\underbrace{p_\le(y)^{N-1}}_{\text{(A)}}\;
\underbrace{\sum_{i=1}^{N}\Big(\tfrac{p_<(y)}{p_\le(y)}\Big)^{i-1}}_{\text{(B)}}$$

* **(A)**, the *penalty*: the chance that the other $N-1$ draws are no better than $y$.
* **(B)**, the *tie correction*, between 1 and $N$: it counts the ways $y$ can be the pick when other draws tie with it.

Summing (B) gives the level form `bondlab.bon_probs` uses: a reward level $r$ gets mass $F(r)^N - F(r^-)^N$
($F$ the reward's CDF under $\pi_\mathrm{ref}$), shared inside the level in proportion to $\pi_\mathrm{ref}$.
That formula also makes sense for real $N \ge 1$, which gives smooth curves and continuous sliders.
"""),
    code(r"""
%matplotlib inline
import numpy as np
import matplotlib.pyplot as plt

import bondlab as bl
from bondlab.plots import bon as bp
from bondlab.smoke import pick, smoke_mode
from bondlab.widgets.bon import bon_panel

rng = np.random.default_rng(0)        # one seeded generator: same notebook, same pictures
SAMPLES = pick(200_000, 5_000)        # Best-of-N picks per Monte Carlo histogram (fewer in smoke mode)
print("smoke mode:", smoke_mode(), "| Monte Carlo picks per histogram:", f"{SAMPLES:,}")
"""),
    md(r"""
## A reference distribution: a mixture on a grid

$\pi_\mathrm{ref}$ is a mixture of two discretised Gaussians on 101 points in $[-1, 1]$; the reward is linear in
the position, so "better" means "further right". Most of the reference mass sits on the *left* mode.
"""),
    code(r"""
space = bl.grid_mixture(k=101, weights=(0.6, 0.4), reward="linear")
fig, (ax_p, ax_r) = plt.subplots(1, 2, figsize=(11, 3.2))
ax_p.plot(space.x, space.ref_probs); ax_p.set_title(r"$\pi_\mathrm{ref}$: mixture weights 0.6 / 0.4")
ax_r.plot(space.x, space.rewards, color="tab:green"); ax_r.set_title("reward r(y)")
ax_p.set_xlabel("outcome y"); ax_r.set_xlabel("outcome y");
"""),
    md(r"""
## Exact $\pi_\mathrm{BoN}$ against real Best-of-N sampling

`bl.sample_bon` does what Best-of-N does: draw $N$ outcomes from $\pi_\mathrm{ref}$, keep the first with the
highest reward. Its histogram should sit on the exact curve, up to sampling noise: the total variation between the
two shrinks like $1/\sqrt{\text{samples}}$.
"""),
    code(r"""
N = 8
picks = bl.sample_bon(space.ref_probs, space.rewards, N, SAMPLES, rng)
pi_bon = bl.bon_probs(space.ref_probs, space.rewards, N)
freq = np.bincount(picks, minlength=space.ref_probs.size) / SAMPLES
print(f"sum of exact pi_BoN = {pi_bon.sum():.12f}")
print(f"TV(exact, sampled) = {bl.tv(pi_bon, freq):.4f} with {SAMPLES:,} picks")
print(f"E_ref[r] = {space.ref_probs @ space.rewards:+.3f}  ->  E_BoN[r] = {pi_bon @ space.rewards:+.3f}")
bp.plot_bon(space.ref_probs, space.rewards, N, x=space.x, samples=picks);
"""),
    md(r"""
## Terms (A) and (B)

On this grid every outcome has its own reward, and each carries little mass, so $p_<(y) \approx p_\le(y)$ and
(B) is close to $N$ almost everywhere: it only normalises. Then $\pi_\mathrm{BoN} \approx N\,\pi_\mathrm{ref}\,
p_\le^{N-1}$, the continuous-reward formula. All the shaping is done by (A), which crushes everything that is
not near the top (note the log scale).
"""),
    code(r"""
bp.plot_terms(space.ref_probs, space.rewards, N, x=space.x);
"""),
    md(r"""
Two checks of the maths: Best-of-2 applied to Best-of-2 is Best-of-4 exactly ($(F^2)^2 = F^4$ on every level),
and a real $N$ sits between its integer neighbours.
"""),
    code(r"""
p, r = space.ref_probs, space.rewards
twice = bl.bon_probs(bl.bon_probs(p, r, 2), r, 2)
print("max |BoN2(BoN2) - BoN4| =", np.abs(twice - bl.bon_probs(p, r, 4)).max())
for n in (4, 4.5, 5):
    print(f"N = {n:<4}  E_BoN[r] = {bl.bon_expected_reward(p, r, n):.4f}   KL = {bl.bon_kl(p, r, n):.4f} nats")
"""),
    md(r"""
## Ties: term (B) at work

Six outcomes, three reward levels. Outcomes `y4` and `y5` tie at the top, `y2` and `y3` in the middle. If we keep
only (A), $\pi_\mathrm{ref}\,p_\le^{N-1}$ normalised, the middle level gets too much and the top too little: a
middle outcome wins only when every other draw is *strictly* worse or tied with it, and (B) counts exactly that.
For the worst level (B) $= 1$, so $\pi_\mathrm{BoN} = \pi_\mathrm{ref}\,p_\le^{N-1}$ there, which is tiny.
The crosses are real Best-of-N picks.
"""),
    code(r"""
ties = bl.tie_example()
N_TIES = 4
tie_picks = bl.sample_bon(ties.ref_probs, ties.rewards, N_TIES, SAMPLES, rng)
fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(12, 4))
bp.plot_ties(ties.ref_probs, ties.rewards, N_TIES, samples=tie_picks, ax=ax0)
bp.plot_terms(ties.ref_probs, ties.rewards, N_TIES, ax=ax1)
a, b = bl.bon_terms(ties.ref_probs, ties.rewards, N_TIES)
print("(A):", np.round(a, 4))
print("(B):", np.round(b, 4), f"  (between 1 and N = {N_TIES})")
"""),
    md(r"""
## Sliders

Move $N$ (log scale, 1 to 1024; real values allowed), the weight of the left mixture component, and the reward's
shape. Everything is exact, so the panel answers at once. Try `steps` (five tied levels) with a large $N$: the KL
stops at $-\log \pi_\mathrm{ref}(\text{top level})$ while the bound $\log N - (N-1)/N$ keeps growing.
"""),
    code(r"""
panel = bon_panel(n=8, weight=0.6, reward="linear")
panel.widget
"""),
    md(r"""
## Summary

* On a finite space the law of the Best-of-N pick is exact and cheap: one sort, then linear passes
  (`bl.bon_probs`; `bl.bon_log_probs` when the numbers underflow). Real Best-of-N sampling agrees with it up to
  sampling noise.
* Theorem 1 splits it into (A) $= p_\le^{N-1}$, which does the selecting, and (B) $\in [1, N]$, which accounts for
  ties. Without ties (B) is nearly the constant $N$; with ties it changes the answer visibly.
* The level form $F(r)^N - F(r^-)^N$ extends to real $N$ and composes: Best-of-2 twice is Best-of-4.
"""),
    md(r"""
## Exercises

Write down your prediction before you compute anything.

1. **A ceiling on the KL.** Set the reward to `steps` (five tied levels) in the panel and push $N$ to 1024.
   Predict: will the KL in the readout be above or below the bound $\log N - (N-1)/N$? Then compute
   $-\log \pi_\mathrm{ref}(\text{top level})$ for that space (`bl.grid_mixture(reward="steps")`) and compare it with
   `bl.bon_kl` for growing $N$. Why can the KL never exceed it?
2. **Term (B) by hand.** For the tie example with $N = 4$, compute term (B) of `y4` from $p_<$ and $p_\le$
   (`bl.quantiles`) and check it against `bl.bon_terms`. Then prove that
   (B) $= (p_\le^N - p_<^N) / (p_\le^{N-1}(p_\le - p_<))$.
3. **Same best outcome, different Best-of-N.** Move the left mixture weight from 0.6 to 0.1. The best outcome does
   not change, so why does $E_\mathrm{BoN}[r]$ change? Predict which of (A) and (B) moves, then check.
"""),
    exercise(1, "a ceiling on the KL"),
    solution_code(1, "-log pi_ref(top level) against bl.bon_kl for growing N, `steps` reward", r"""
steps = bl.grid_mixture(reward="steps")
top_mass = steps.ref_probs[steps.rewards == steps.rewards.max()].sum()
print(f"pi_ref(top level) = {top_mass:.4f}, so -log pi_ref(top level) = {-np.log(top_mass):.4f} nats")
for n in (1, 4, 16, 64, 1024, 1e6):
    print(f"N = {n:>9g}   KL(pi_BoN || pi_ref) = {bl.bon_kl(steps.ref_probs, steps.rewards, n):.4f}"
          f"   bound log N - (N-1)/N = {bl.bon_kl_bound(n):7.4f}")
"""),
    solution_md(1, r"""
Below the bound, and stuck: from $N \approx 1000$ on, the KL equals $-\log \pi_\mathrm{ref}(\text{top level})
\approx 3.19$ nats (the top level holds 4% of $\pi_\mathrm{ref}$), while the bound keeps growing like $\log N$.
Why it is a ceiling: inside a reward level $\pi_\mathrm{BoN}/\pi_\mathrm{ref}$ is constant and equals
$(F_\ell^N - F_{\ell-1}^N)/(F_\ell - F_{\ell-1})$, the average of $N u^{N-1}$ over the level's quantile interval
$[F_{\ell-1}, F_\ell]$. That average grows with the level, so the largest ratio is the top level's,
$(1 - F_{\mathrm{top}^-}^N)/\pi_\mathrm{ref}(\text{top}) \le 1/\pi_\mathrm{ref}(\text{top})$. The KL is the
$\pi_\mathrm{BoN}$-average of the log ratio, so it is at most $-\log \pi_\mathrm{ref}(\text{top})$, reached when
Best-of-N returns the top level every time. The bound assumes a continuous reward, which always has a better outcome left to find.
"""),
    exercise(2, "term (B) by hand"),
    solution_code(2, "term (B) of y4 from p_< and p_le, against bl.bon_terms", r"""
p_lt, p_le = bl.quantiles(ties.ref_probs, ties.rewards)
y, n = 4, 4
by_hand = sum((p_lt[y] / p_le[y]) ** (i - 1) for i in range(1, n + 1))
closed = (p_le ** n - p_lt ** n) / (p_le ** (n - 1) * (p_le - p_lt))      # every outcome at once
_, b = bl.bon_terms(ties.ref_probs, ties.rewards, n)
print(f"y4: p_< = {p_lt[y]:.2f}, p_le = {p_le[y]:.2f};  (B) by hand = {by_hand:.4f},"
      f" closed form = {closed[y]:.4f}, bl.bon_terms = {b[y]:.4f}")
print("closed form against bl.bon_terms, all six outcomes: max |difference| =", np.abs(closed - b).max())
"""),
    solution_md(2, r"""
For `y4`, $p_< = 0.3 + 0.2 + 0.15 + 0.15 = 0.8$ (the four outcomes with a lower reward) and $p_\le = 1$, so
(B) $= 1 + 0.8 + 0.64 + 0.512 = 2.952$. Proof: (B) is a geometric series with ratio $\rho = p_</p_\le < 1$, so
(B) $= (1 - \rho^N)/(1 - \rho)$; multiply the numerator and the denominator by $p_\le^N$ to get
$(p_\le^N - p_<^N)/(p_\le^{N-1}(p_\le - p_<))$. Then $\pi_\mathrm{BoN}(y) = \pi_\mathrm{ref}(y)\,(p_\le^N -
p_<^N)/(p_\le - p_<)$, and $p_\le - p_<$ is the mass of $y$'s level: this is the level form $F(r)^N - F(r^-)^N$,
shared in proportion to $\pi_\mathrm{ref}$. For the lowest level $p_< = 0$ and (B) $= 1$.
"""),
    exercise(3, "same best outcome, different Best-of-N"),
    solution_code(3, "E_BoN[r], and terms (A) and (B) at x = 0.4, for left weights 0.6 and 0.1", r"""
for w in (0.6, 0.1):
    s = bl.grid_mixture(weights=(w, 1 - w), reward="linear")
    _, q = bl.quantiles(s.ref_probs, s.rewards)
    a, b = bl.bon_terms(s.ref_probs, s.rewards, N)
    pi_w = bl.bon_probs(s.ref_probs, s.rewards, N)
    i = np.argmin(np.abs(s.x - 0.4))                                         # an outcome on the right mode
    print(f"left weight {w}: E_ref[r] = {s.ref_probs @ s.rewards:+.3f}, E_BoN[r] = {pi_w @ s.rewards:+.3f}"
          f" (gain {pi_w @ s.rewards - s.ref_probs @ s.rewards:.3f}) | at x = 0.4: p_le = {q[i]:.3f},"
          f" (A) = {a[i]:.4f}, (B) = {b[i]:.2f} | (B) averaged under pi_BoN = {pi_w @ b:.2f} of N = {N}")
"""),
    solution_md(3, r"""
$\pi_\mathrm{BoN}$ is not "the best outcome": it is $\pi_\mathrm{ref}$ reweighted by (A)(B), and the $N$ draws
come from $\pi_\mathrm{ref}$. With weight 0.1 most of $\pi_\mathrm{ref}$ sits on the right mode, so
$E_\mathrm{ref}[r]$ and $E_\mathrm{BoN}[r]$ both rise. **(A) moves**: every outcome's quantile changes. At
$x = 0.4$, $p_\le$ falls from about 0.81 to 0.57, so (A) $= p_\le^{7}$ falls about tenfold, and Best-of-8 now
looks further right. **(B) moves little**: it dips where one outcome carries more mass (at $x = 0.4$, now the
centre of the heavy mode, from 7.3 to 6.0), but averaged under $\pi_\mathrm{BoN}$ it stays near $N$ (7.6, then
7.3): without ties it mostly normalises. Note also that the *gain* $E_\mathrm{BoN} - E_\mathrm{ref}$ halves: the right mode is narrow, and
Best-of-N can only select among the rewards $\pi_\mathrm{ref}$ actually produces.
"""),
]

NB02 = [
    md(r"""
# 02 · Quantiles, and how to choose N

Best-of-N only looks at the *rank* of a sample's reward among reference samples: its quantile
$p_\le(y) = P_{y' \sim \pi_\mathrm{ref}}[r(y') \le r(y)]$. For continuous rewards this gives clean laws
(Sessa et al. 2024, Sec. 3; Beirami et al. 2024):

* the quantile of the pick is $\mathrm{Beta}(N, 1)$: $E[p_\le] = N/(N+1)$, $E[\log p_\le] = -1/N$;
* the win rate against one reference sample is $N/(N+1)$;
* $\mathrm{KL}(\pi_\mathrm{BoN}\,\|\,\pi_\mathrm{ref}) = \log N - (N-1)/N$.

On a finite space with ties or heavy atoms these become inequalities. Here we compute the exact values and see
by how much they depart. At the end: what happens when $p_\le$ is *estimated* from $k$ samples, as BOND does.
"""),
    code(r"""
%matplotlib inline
import numpy as np
import matplotlib.pyplot as plt

import bondlab as bl
from bondlab.plots import bon as bp
from bondlab.quantile_estimates import expected_power
from bondlab.smoke import pick, smoke_mode
from bondlab.widgets.quantiles import quantile_panel

rng = np.random.default_rng(0)
SAMPLES = pick(100_000, 5_000)              # Best-of-N picks for the sampled quantile law
REPS = pick(200, 15)                         # repeated k-sample estimates per point of the error curve
NS = 2.0 ** np.arange(0, 10.25, 0.25)        # N from 1 to 1024 (real N is fine)
spaces = [bl.grid_mixture(reward="linear"), bl.grid_mixture(reward="steps"), bl.tie_example(), bl.uniform_binary()]
print("smoke mode:", smoke_mode(), "| spaces:", [s.name for s in spaces])
"""),
    md(r"""
## The quantile law

Below: the CDF of $p_\le$ of the Best-of-8 pick. The black curve is $\mathrm{Beta}(N, 1)$, CDF $u^N$. On a finite
space $p_\le$ takes one value per reward level, and the level form gives $P[p_\le \le F(r)] = F(r)^N$ exactly, so
the exact staircase *touches* $u^N$ at every atom and lies below it in between. The pick's quantile is
therefore stochastically larger than Beta(N, 1), and $E[p_\le] \ge N/(N+1)$. With few levels (step reward, a
binary space) the gap is large. The dotted line is real sampled picks.
"""),
    code(r"""
N = 8
fig, axes = plt.subplots(1, 3, figsize=(15, 4))
for ax, s in zip(axes, [spaces[0], spaces[1], spaces[3]]):
    picks = bl.sample_bon(s.ref_probs, s.rewards, N, SAMPLES, rng)
    bp.plot_quantile_law(s.ref_probs, s.rewards, N, samples=picks, ax=ax)
    ax.set_title(f"{s.name}, N={N}")
"""),
    code(r"""
fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(12, 4))
bp.plot_expected_quantile(spaces, NS, ax=ax0)
bp.plot_expected_quantile(spaces, NS, log=True, ax=ax1)
ax1.set_ylim(-1.05, 0.02);
"""),
    md(r"""
## KL against the bound $\log N - (N-1)/N$

The bound is exact only in the continuous limit. On a finite space the KL can never exceed
$-\log \pi_\mathrm{ref}(\text{best level})$: once $N$ is large, Best-of-N just returns the top level. Beirami et
al. (2024) point to the simplest case, the **uniform binary space**: $\pi_\mathrm{BoN} = (2^{-N}, 1 - 2^{-N})$, so
the KL never exceeds $\log 2$ however large $N$ gets, while the bound grows without end. The gap grows
with $N \max \pi_\mathrm{ref}$ (exercise 3 asks how fast).
"""),
    code(r"""
bp.plot_kl_vs_bound(spaces, NS)
binary = bl.uniform_binary()
for n in (2, 16, 1024, 1e6):
    print(f"N = {n:>9g}   exact KL = {bl.bon_kl(binary.ref_probs, binary.rewards, n):.6f}"
          f"   bound = {bl.bon_kl_bound(n):8.4f}   log 2 = {np.log(2):.6f}")
"""),
    md(r"""
## Win rate and reward gain

The win rate of the Best-of-N pick against one fresh reference sample (a tie counts half) is $N/(N+1)$ for
continuous rewards; ties pull it down, since a pick from the top level still ties often. The reward gain grows
roughly like $\log N$ and then saturates at the best reward: after that, larger $N$ buys KL and nothing else.
"""),
    code(r"""
fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(12, 4))
bp.plot_win_rate(spaces, NS, ax=ax0)
bp.plot_reward_gain(spaces, NS, ax=ax1);
"""),
    md(r"""
## Estimated quantiles: errors raised to the power $N-1$

BOND's backward-KL reward needs $\log p_\le(y)$, which in practice is estimated from $k$ reference samples:
$\hat p_\le(y)$ = the fraction with reward $\le r(y)$ (the paper uses $k = 16$ for training and 32 for
evaluation). $\hat p_\le$ is unbiased, but the target needs $p_\le^{N-1}$, and
$E[\hat p_\le^{\,N-1}] \ne p_\le^{N-1}$. For $N-1 \gg k$ it tends to $p_\le^k$: the estimate cannot see finer
than $1/k$. Exactly, for one outcome at $p_\le = 0.9$:
"""),
    code(r"""
p_le = 0.9
print(" k  |" + "".join(f"   N={n:<5d}" for n in (4, 16, 64, 256)))
for k in (8, 16, 32, 128):
    row = [expected_power(p_le, k, n - 1)[0] / p_le ** (n - 1) for n in (4, 16, 64, 256)]
    print(f"{k:3d} |" + "".join(f"{v:11.3g}" for v in row))
print("entries: E[p_hat^(N-1)] / p_le^(N-1); 1 would be no distortion")
"""),
    md(r"""
The whole target: TV between $\pi_\mathrm{ref}\,\hat p_\le^{N-1}$ (normalised) and the same form with exact
quantiles, averaged over repeated draws of the $k$ samples, with one-standard-deviation bars. The larger $N$,
the more samples a given accuracy needs.
"""),
    code(r"""
mixture = spaces[0]
ks = 2 ** np.arange(1, 9)
bp.plot_quantile_error(mixture.ref_probs, mixture.rewards, [4, 16, 64], ks, rng, reps=REPS);
"""),
    md(r"""
## Sliders: k and N

Left: the exact $p_\le$ against one estimate $\hat p_\le$ from $k$ samples, and both raised to $N-1$. Right: the
target built from each, and the exact $\pi_\mathrm{BoN}$ (dotted). The readout gives the TV error of this draw and
its mean over 40 draws (seeded, so the same $(k, N)$ always shows the same numbers).
"""),
    code(r"""
qpanel = quantile_panel(mixture, k=16, n=16)
qpanel.widget
"""),
    md(r"""
## Summary

* The Best-of-N pick's reference quantile is $\mathrm{Beta}(N, 1)$ only for continuous rewards. On a finite space
  its CDF is a staircase touching $u^N$ at the atoms, so $E[p_\le] \ge N/(N+1)$ and the KL lies below
  $\log N - (N-1)/N$, far below when the top level is heavy (the uniform binary space never passes $\log 2$).
* Win rate and reward gain saturate once Best-of-N reliably finds the top level: past that point $N$ buys nothing.
* Estimated quantiles enter the target as $\hat p_\le^{N-1}$: their error grows with $N$ and shrinks with $k$,
  one reason BOND prefers a moderate $N$ (and iterating it) to one huge $N$.
"""),
    md(r"""
## Exercises

Write down your prediction before you compute anything.

1. **The binary space by hand.** Show that on the uniform binary space $\mathrm{KL}(\pi_\mathrm{BoN}\|\pi_\mathrm{ref}) =
   \log 2 + (1-2^{-N})\log(1-2^{-N}) - N 2^{-N}\log 2$ and that it increases to $\log 2$. Check your formula
   against `bl.bon_kl`.
2. **How many samples for a given $N$?** The panel's readout gives the mean TV of the plug-in target
   (`bondlab.quantile_estimates.plug_in_error`). For $N = 4, 16, 64, 256$ find the smallest $k$ (a power of 2) that
   brings the mean TV under 0.1. Predict first: when $N$ grows fourfold, how much must $k$ grow? (The panel's $k$
   slider stops at 256: is that enough for $N = 256$?)
3. **When does the bound stop being tight?** Take $K$ equally likely outcomes with distinct rewards. For which $N$
   does the exact KL first fall 0.1 nats below $\log N - (N-1)/N$? Predict first: when $K$ doubles, does that $N$
   double, or grow by $\sqrt 2$? What does your answer say about $N^2 \max \pi_\mathrm{ref}$ versus
   $N \max \pi_\mathrm{ref}$?
"""),
    exercise(1, "the binary space by hand"),
    solution_code(1, "the closed-form KL on the uniform binary space against bl.bon_kl", r"""
ns = np.arange(1, 31)
formula = np.log(2) + (1 - 2.0 ** -ns) * np.log(1 - 2.0 ** -ns) - ns * 2.0 ** -ns * np.log(2)
exact = np.array([bl.bon_kl(binary.ref_probs, binary.rewards, n) for n in ns])
print("max |formula - bl.bon_kl| over N = 1..30:", np.abs(formula - exact).max())
print("increasing in N:", bool(np.all(np.diff(exact) > 0)), "| log 2 - KL at N = 1, 5, 10, 30:",
      np.round(np.log(2) - exact[[0, 4, 9, 29]], 10))
"""),
    solution_md(1, r"""
Best-of-N picks the low outcome only when all $N$ draws are low, so $\pi_\mathrm{BoN} = (2^{-N}, 1 - 2^{-N})$ and
$$\mathrm{KL} = 2^{-N}\log\frac{2^{-N}}{1/2} + (1-2^{-N})\log\frac{1-2^{-N}}{1/2}
= \log 2 + (1-2^{-N})\log(1-2^{-N}) - N 2^{-N}\log 2 .$$
It is the KL from the uniform law, $\log 2 - H(\pi_\mathrm{BoN})$, and the entropy $H$ of $(2^{-N}, 1-2^{-N})$
falls to 0 as $2^{-N}$ falls to 0, so the KL increases to $\log 2$. The gap $\log 2 - \mathrm{KL}$ is about
$N 2^{-N}\log 2$: tiny from $N \approx 10$ on, while the bound grows like $\log N$.
"""),
    exercise(2, "how many samples for a given N?"),
    solution_code(2, "the smallest k (a power of 2) with mean plug-in TV < 0.1, for N = 4, 16, 64, 256", r"""
from bondlab.quantile_estimates import plug_in_error

reps = pick(100, 20)                                    # draws of the k samples per (N, k)
for n in (4, 16, 64, 256):
    for k in 2 ** np.arange(1, 14):                     # k = 2 ... 8192
        mean_tv, _ = plug_in_error(mixture.ref_probs, mixture.rewards, n, int(k), rng, reps=reps)
        if mean_tv < 0.1:
            print(f"N = {n:3d}: smallest k is {k:5d} (mean TV {mean_tv:.3f}), k / N = {k / n:.0f}")
            break
    else:
        print(f"N = {n:3d}: mean TV still {mean_tv:.3f} at k = {k}")
"""),
    solution_md(2, r"""
$k$ grows roughly in proportion to $N$, about $8N$ to $16N$ (the powers of 2 and the Monte Carlo mean make it
approximate): $N = 16$ needs $k$ in the hundreds, $N = 256$ a few thousand, far past the panel's 256 and the
paper's $k = 16$. Why linear: $\hat p_\le$ is off by about $\sqrt{p_\le(1-p_\le)/k}$, a relative error of about
$\sqrt{(1-p_\le)/k}$ near the top. The outcomes Best-of-N picks have $1 - p_\le \approx 1/N$, and the power
$N-1$ multiplies a relative error by about $N$, giving $N\sqrt{1/(Nk)} = \sqrt{N/k}$, which stays fixed when
$k \propto N$. Had the error been the same everywhere, $k$ would have to grow like $N^2$.
"""),
    exercise(3, "when does the bound stop being tight?"),
    solution_code(3, "first N where the exact KL is 0.1 nats below the bound, K equally likely outcomes", r"""
for K in (10, 100, 1000):
    p_k, r_k = np.full(K, 1.0 / K), np.arange(K, dtype=float)
    n = 1
    while bl.bon_kl_bound(n) - bl.bon_kl(p_k, r_k, n) <= 0.1:
        n += 1
    print(f"K = {K:4d}: first N = {n:5d}   N / K = {n / K:.2f}   N^2 / K = {n * n / K:8.1f}")
p_k, r_k = np.full(1000, 1e-3), np.arange(1000.0)
for n in (10, 100):
    gap = bl.bon_kl_bound(n) - bl.bon_kl(p_k, r_k, n)
    print(f"K = 1000, N = {n}: gap = {gap:.2e} nats, gap x (K/N)^2 = {gap * (1000 / n) ** 2:.4f}   (1/24 = {1 / 24:.4f})")
"""),
    solution_md(3, r"""
The first $N$ is about $1.6K$: it doubles when $K$ doubles. What matters is $N \max\pi_\mathrm{ref} = N/K$, not
$N^2 \max \pi_\mathrm{ref}$ (which grows from 26 to 2500 across the three spaces). For $N \ll K$ the gap is
$\approx (N/K)^2/24$. The reason: on the quantile scale Best-of-N is the law $\mathrm{Beta}(N, 1)$ with density
$N u^{N-1}$, and the $K$ outcomes cut $[0, 1]$ into bins of width $h = 1/K$. Inside a bin, where the log-density
has slope $s = (N-1)/u$, the finite space cannot tell the density from a flat one, and that loses about
$s^2 h^2/24$ nats; averaged under $\mathrm{Beta}(N, 1)$, $s^2 \approx N^2$. Setting $(N/K)^2/24 = 0.1$ gives
$N \approx 1.55K$, close to what we measured.
"""),
]


if __name__ == "__main__":
    for cells, name in [(NB01, "01_best_of_n.ipynb"), (NB02, "02_quantiles_and_n.ipynb")]:
        print("wrote", write(cells, HERE / name))
