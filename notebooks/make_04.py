"""Write notebook 04 (without outputs) from the cells below: ``python notebooks/make_04.py``.

The notebook stays thin: markdown, then calls into bondlab (maths in bondlab.proxy / overopt, pictures in
bondlab.plots.overopt, sliders in bondlab.widgets.overopt). Edit here, not in the .ipynb.
"""
from __future__ import annotations

import pathlib

from _cells import code, exercise, md, solution_code, solution_md, write  # notebooks/_cells.py

HERE = pathlib.Path(__file__).parent


NB04 = [
    md(r"""
# 04 · Reward over-optimization, and choosing N

Best-of-N needs a reward, and in practice that reward is a **reward model**: a *proxy* trained on a few human
comparisons. It is right where the comparisons were drawn (where $\pi_\mathrm{ref}$ puts mass) and free to be
wrong in the tails, which is exactly where Best-of-N with a large $N$ goes looking. Gao, Schulman & Hilton
(2022) measured the consequence: as the optimisation pushes further from $\pi_\mathrm{ref}$, the proxy reward
keeps rising while the **gold** reward (the thing we care about) peaks and then falls.

BOND (Sessa et al. 2024, Sec. 4) lists this as the first reason not to distil one huge $N$: **$N$ is the
regulariser**, so it has to be chosen. In this notebook everything is exact on a 201-point toy space:

* a gold reward, and a Bradley–Terry proxy fitted on $m$ noisy comparisons of samples from $\pi_\mathrm{ref}$;
* $\pi_\mathrm{BoN} = $ `bon_probs(pi_ref, r_proxy, N)` for $N = 1 \dots 10^4$, scored by the gold reward;
* the KL-regularised optimum $\pi_\beta \propto \pi_\mathrm{ref}\, e^{r_\mathrm{proxy}/\beta}$ over a range of $\beta$;
* Gao et al.'s fitted forms, and the $N$ you would pick from them.
"""),
    code(r"""
%matplotlib inline
import numpy as np
import matplotlib.pyplot as plt

from bondlab import overopt as oo
from bondlab.plots import overopt as op
from bondlab.proxy import ProxyConfig, fit_proxy, pairwise_accuracy
from bondlab.smoke import pick, smoke_mode
from bondlab.widgets.overopt import overopt_panel

POINTS = pick(40, 15)        # points on the N and beta grids (fewer in smoke mode)
SEEDS = pick(40, 8)          # seeds for the "how often" experiment
print("smoke mode:", smoke_mode(), "| grid points:", POINTS)
"""),
    md(r"""
## The proxy: Bradley–Terry on noisy comparisons

$\pi_\mathrm{ref}$ is a two-component mixture; the gold reward is a bump peaking at $x = 0.5$. We draw $m$ pairs
from $\pi_\mathrm{ref}$, label each by the gold reward, flip a fraction `noise` of the labels, and fit
$P[a \succ b] = \sigma(r_\mathrm{proxy}(a) - r_\mathrm{proxy}(b))$ by maximum likelihood with
$r_\mathrm{proxy}(y) = \phi(x_y)\cdot w$, where $\phi$ holds `capacity` Legendre polynomials. With `capacity=2` the
proxy learns "further right is better", true on almost every pair $\pi_\mathrm{ref}$ produces, and wrong past the
peak. The ticks show which outcomes were ever compared.
"""),
    code(r"""
cfg = oo.OveroptConfig(m=100, noise=0.1, capacity=2, n_points=POINTS, n_betas=POINTS, ks=pick((4, 16, 64), (4, 16)))
res = oo.run_overopt(cfg)
sp = res.space
print(f"labels flipped: {int(res.proxy.flipped.sum())} of {cfg.m}")
print(f"proxy ranks pi_ref's pairs correctly with probability {pairwise_accuracy(sp.ref_probs, sp.rewards, res.proxy.rewards):.3f}")
op.plot_rewards(res);
"""),
    md(r"""
## Gold against proxy, exactly

Each point below is one exact $\pi_\mathrm{BoN}$ (no sampling), placed at $d = \sqrt{\mathrm{KL}(\pi_\mathrm{BoN}\|\pi_\mathrm{ref})}$.
The proxy is drawn in gold units (least-squares map under $\pi_\mathrm{ref}$), so the two curves can be compared:
they agree at first, then part. The blue curves are the KL-regularised optimum over $\beta$, and the squares are
BOND-distilled policies (Jeffreys objective, a 2-parameter Gaussian policy) for a few $N$: a restricted policy
cannot reach $\pi_\mathrm{BoN}$ exactly, so its points sit near, not on, the Best-of-N curve. Dotted: Gao et al.'s
forms $R_\mathrm{bon}(d) = d(\alpha - \beta d)$ and $R_\mathrm{RL}(d) = d(\alpha - \beta\log d)$ fitted with
`scipy.optimize.curve_fit`.
"""),
    code(r"""
bond = oo.bond_curves(sp, res.proxy.rewards, pick([2, 4, 8, 16, 32, 64], [4, 16]))
fig, axes = plt.subplots(1, 2, figsize=(13, 4.4), layout="constrained")
op.plot_overopt(res, ax=axes[0], others={"BOND (Gaussian policy)": bond})
op.plot_vs_n(res, ax=axes[1]);
print(f"true best N = {res.best_n_true} (gold {res.extra['gold_at_best_true']:.3f});",
      f"best N from the fitted R_bon = {res.best_n_fit} (gold {res.extra['gold_at_best_fit']:.3f})")
print(f"R_bon fit: alpha = {res.fit_bon.alpha:.3f}, beta = {res.fit_bon.beta:.3f}, d* = alpha/(2 beta) = {res.fit_bon.d_star:.3f}")
print(f"R_RL  fit: alpha = {res.fit_rl.alpha:.3f}, beta = {res.fit_rl.beta:.3f}")
print(f"gold at N = {int(res.bon.param[-1])}: {res.bon.gold[-1]:.3f}, below pi_ref's {res.extra['gold_ref']:.3f}")
"""),
    md(r"""
## Is the peak an accident of one seed?

Best-of-N depends on the proxy only through its *ranking* of outcomes. With $m = 30$ comparisons and 30% of the
labels flipped, we refit the proxy for many seeds and record where the gold reward peaks. An interior peak
($1 < N^\star < 10^4$) is the rule; the exceptions are proxies that rank $\pi_\mathrm{ref}$'s pairs *worse*
than chance, for which $N = 1$ is best.
"""),
    code(r"""
grid = oo.n_grid(10_000, POINTS)
rows = []
for seed in range(SEEDS):
    pr = fit_proxy(sp.x, sp.ref_probs, sp.rewards, ProxyConfig(m=30, noise=0.3, capacity=1), rng=np.random.default_rng(seed))
    gold = oo.bon_curves(sp.ref_probs, sp.rewards, pr.rewards, grid).gold
    rows.append((seed, int(grid[np.argmax(gold)]), pairwise_accuracy(sp.ref_probs, sp.rewards, pr.rewards)))
best = np.array([r[1] for r in rows])
print(f"interior peak in {np.sum((best > 1) & (best < 10_000))} of {SEEDS} seeds; best N per seed:", best.tolist())
print("seeds with N* = 1 and their pairwise accuracy:", [(s, round(a, 3)) for s, n, a in rows if n == 1])
"""),
    md(r"""
## The quantile view: estimated $p_\le$ and large $N$

BOND's backward term needs $p_\le(y)^{N-1}$, estimated from $k$ reference samples (Sec. 4.2). The estimate is
unbiased for $p_\le$, not for its power: $E[\hat p_\le^{\,N-1}] \to p_\le^k$ as $N$ grows, so the target built from
estimates stops sharpening near $N \approx k+1$ (dotted lines) while the true one keeps going. Below: total
variation between the averaged plug-in target and the exact-quantile target, computed exactly from the binomial law.
"""),
    code(r"""
op.plot_quantile_view(res.quantile);
"""),
    md(r"""
## Sliders

Change the number of comparisons $m$, the label noise, the proxy's capacity, the left weight of
$\pi_\mathrm{ref}$ and the seed. Every update refits the proxy and recomputes the exact curves. Try: many clean
labels with capacity 10 (the proxy can now represent the bump, and the gold curve stops falling), or move
$\pi_\mathrm{ref}$'s mass to the left (the proxy never sees the region past the peak).
"""),
    code(r"""
panel = overopt_panel(m=100, noise=0.1, capacity=2, weight=0.6)
panel.widget
"""),
    md(r"""
## Summary

* A proxy reward fitted on $\pi_\mathrm{ref}$'s samples is right where $\pi_\mathrm{ref}$ has mass and wrong in the
  tails; Best-of-N with large $N$ goes to the tails, so the **gold reward peaks at a finite $N$** while the proxy keeps rising.
* The curves are exact: $\pi_\mathrm{BoN}$ = `bon_probs(pi_ref, r_proxy, N)`, the KL-regularised optimum is a softmax,
  and $d = \sqrt{\mathrm{KL}}$ is computed level by level.
* Gao et al.'s $R_\mathrm{bon}(d) = d(\alpha-\beta d)$ gives a pick $d^\star = \alpha/2\beta$, hence an $N$, to set
  beside the true best $N$; on a finite space the gold curve flattens at large $N$, which the form does not know.
* Quantile estimates from $k$ samples are raised to the power $N-1$: past $N \approx k$ the target they define stops
  following the true one.
"""),
    md(r"""
## Exercises

Write down your prediction before you compute anything.

1. **More data, same capacity.** With `capacity=2`, increase $m$ to 2000 and set the noise to 0. Predict: does the
   true best $N$ move? Explain with the fact that Best-of-N sees only the proxy's ranking. Then raise the capacity to
   10 and explain what changes.
2. **Fitting before the peak.** Fit $R_\mathrm{bon}$ only to the points with $N \le 16$
   (`oo.fit_gao(res.bon.d[m], gain[m], "bon")` with a mask `m`, gain = gold minus $\pi_\mathrm{ref}$'s gold) and pick
   $N$ from it (`oo.best_n_from_fit`). How far is that pick from the true best $N$, and from the pick using every point?
3. **When do estimated quantiles break?** For $k = 16$, find the $N$ at which the total variation of the quantile
   view (mean plug-in target against the exact-quantile target, `oo.mean_plug_in_target`) first exceeds 0.5. Predict
   first: when you double $k$, does that $N$ double? Relate it to $E[\hat p^{\,N-1}] \to p^k$.
"""),
    exercise(1, "more data, same capacity"),
    solution_code(1, "the true best N for (m, noise, capacity) = (100, 0.1, 2), (2000, 0, 2), (2000, 0, 10)", r"""
for m, noise, capacity in ((100, 0.1, 2), (2000, 0.0, 2), (2000, 0.0, 10)):
    r = oo.run_overopt(oo.OveroptConfig(m=m, noise=noise, capacity=capacity, n_points=POINTS, n_betas=POINTS),
                       quantile=False)
    acc = pairwise_accuracy(r.space.ref_probs, r.space.rewards, r.proxy.rewards)
    print(f"m={m:4d} noise={noise} capacity={capacity:2d}: best N = {r.best_n_true:5d},"
          f" gold there {r.extra['gold_at_best_true']:.3f}, at N = 10^4 {r.bon.gold[-1]:.3f}"
          f" (best possible {r.extra['gold_max']:.2f}) | proxy's favourite x = {r.space.x[np.argmax(r.proxy.rewards)]:+.2f},"
          f" right on {acc:.3f} of pi_ref's pairs")
"""),
    solution_md(1, r"""
With capacity 2 the best $N$ does not move (11 both times). $\pi_\mathrm{BoN}$ = `bon_probs(pi_ref, r_proxy, N)`
depends on the proxy only through its ranking of outcomes, and on the bulk of $\pi_\mathrm{ref}$ both proxies rank
"further right is better": they are right on the same 97% of $\pi_\mathrm{ref}$'s pairs. A quadratic can bend only
once; with 2000 clean labels it bends at $x \approx 0.8$, still far past the gold peak at 0.5. The ranking changes
only in the far tail ($x > 0.8$, about 0.1% of $\pi_\mathrm{ref}$), which Best-of-N reaches only for $N$ in the
thousands (the gold reward at $N = 10^4$ is a little higher). More clean data gives a better estimate of a
wrong ranking. With capacity 10 the proxy can represent the bump and its favourite outcome is the gold peak. The
gold reward then keeps rising to $\approx 1$, its maximum, and stays there: the over-optimization came from the
proxy's blind spot, not from the size of $N$.
"""),
    exercise(2, "fitting before the peak"),
    solution_code(2, "R_bon fitted to N <= 16 only, and the N it picks", r"""
gain = res.bon.gold - res.extra["gold_ref"]
early = res.bon.param <= 16
fit16 = oo.fit_gao(res.bon.d[early], gain[early], "bon")
n16 = oo.best_n_from_fit(fit16, sp.ref_probs, res.proxy.rewards, res.bon.param)
print(f"fit on N <= 16 ({early.sum()} points): d* = {fit16.d_star:.2f} -> picks N = {n16}")
print(f"fit on all points: d* = {res.fit_bon.d_star:.2f} -> picks N = {res.best_n_fit};  true best N = {res.best_n_true}")
ax = plt.figure(figsize=(6, 3.6)).gca()
d = np.linspace(0, res.bon.d.max(), 200)
ax.plot(res.bon.d, gain, "ko", ms=3, label="exact gold gain (Best-of-N)")
ax.plot(d, fit16(d), label="R_bon fitted to N ≤ 16")
ax.plot(d, res.fit_bon(d), ls="--", label="R_bon fitted to every N")
ax.set_xlabel(r"$d = \sqrt{\mathrm{KL}}$"); ax.set_ylabel("gold gain"); ax.legend(fontsize=8);
"""),
    solution_md(2, r"""
Far off: fitted to $N \le 16$ only, $R_\mathrm{bon}$ puts its peak at a much larger $d$ and picks an $N$ in the
hundreds or thousands (655 in smoke mode, 3797 in full mode, where more early points are fitted),
where the gold gain has long collapsed; the fit to every point picks the true best
$N$. Early points lie on the rising part of the curve, which is nearly straight, so the curvature $\beta$ is poorly
determined, and a small $\beta$ means a far-away peak $d^\star = \alpha/2\beta$. You cannot tell where
over-optimization sets in before you have seen it, which is why the gold (or a held-out) reward must be
measured past the peak.
"""),
    exercise(3, "when do estimated quantiles break?"),
    solution_code(3, "the first N where TV(mean plug-in target, exact-quantile target) > 0.5, for k = 4 ... 64", r"""
import bondlab as bl
from scipy.optimize import brentq
from bondlab.quantile_estimates import plug_in_bon_probs

_, p_le = bl.quantiles(sp.ref_probs, res.proxy.rewards)
ns = np.unique(np.round(np.logspace(0, 4, 400)))                       # N from 1 to 10^4
tv_at = lambda n, k: bl.tv(oo.mean_plug_in_target(sp.ref_probs, res.proxy.rewards, n, k),
                           plug_in_bon_probs(sp.ref_probs, p_le, n))
c = brentq(lambda c: c ** (-1 / (c - 1)) * (1 - 1 / c) - 0.5, 1.5, 50)  # TV(Beta(a,1), Beta(c a,1)) = 0.5
for k in (4, 8, 16, 32, 64):
    n_half = next(n for n in ns if tv_at(n, k) > 0.5)
    print(f"k = {k:2d}: TV first above 0.5 at N = {n_half:4.0f}   N / (k+1) = {n_half / (k + 1):.2f}   (prediction {c:.2f})")
"""),
    solution_md(3, r"""
For $k = 16$ the TV passes 0.5 near $N \approx 77$, and doubling $k$ doubles that $N$: it stays at about
$4.5\,(k+1)$. Why: once $N - 1 \gg k$, $E[\hat p^{\,N-1}] \to p^k$ (all $k$ samples must lie below $y$), so the
estimated target freezes at $\pi_\mathrm{ref}\,p_\le^k$, which is Best-of-$(k+1)$ without term (B), while the
exact one keeps sharpening as Best-of-$N$. On the quantile scale these are $\mathrm{Beta}(k+1, 1)$ and
$\mathrm{Beta}(N, 1)$, with CDFs $u^{k+1}$ and $u^N$, so their TV is $\max_v (v - v^c)$ with $c = N/(k+1)$, which depends only
on the ratio and reaches 0.5 at $c \approx 4.4$. The measured ratio is a little higher because the freeze is not
complete at $N \approx 4k$ and the grid of $N$ is coarse.
"""),
]


if __name__ == "__main__":
    print(write(NB04, HERE / "04_reward_overoptimization.ipynb"))
