"""Write notebook 06 (without outputs) from the cells below: ``python notebooks/make_06.py``.

The notebook stays thin: markdown, then calls into bondlab (training in bondlab.lm.jbond / reinforce, the
pipeline in bondlab.lm.demo, pictures in bondlab.plots.lm, sliders in bondlab.widgets.lm). Edit here, not
in the .ipynb.
"""
from __future__ import annotations

import pathlib

from _cells import code, exercise, md, solution_code, solution_md, write  # notebooks/_cells.py

HERE = pathlib.Path(__file__).parent


NB06 = [
    md(r"""
# 06 · BOND on a small language model: J-BOND vs Best-of-N vs REINFORCE

Everything so far happened on tables of probabilities. Here the policy is a real (tiny) GPT: 0.8M parameters,
pretrained on generated English reviews ("the food was not very good but the service was great ."), shipped
inside bondlab. The reward is VADER's sentiment score (the *gold* reward); a bag-of-words reward model trained
on a few hundred noisy comparisons is the *proxy*.

We compare three ways of getting high-reward text (Sessa et al. 2024, Sec. 5–6):

* **Best-of-N sampling** from $\pi_\mathrm{ref}$: draw $N$ completions, keep the best. Costs $N$ samples at
  inference; its KL to $\pi_\mathrm{ref}$ is at most $\log N - (N-1)/N$.
* **J-BOND** (Algorithm 2): distil Best-of-N into the weights, so one sample scores like the best of $N$.
  Per prompt: one policy sample, two anchor samples; forward term = SFT on the better anchor sample; backward
  reward $-\log 16$ if the policy sample loses to both, minus the log-ratio to the anchor; an EMA anchor.
  It **stops** when the policy's mean reference quantile $\mathbb{E}[p_\le(y)]$ reaches $N/(N+1)$, the
  Best-of-N value.
* **REINFORCE** with a leave-one-out baseline and a KL penalty $\beta_\mathrm{RL}$ to $\pi_\mathrm{ref}$, with the
  same wall-clock training budget as J-BOND.

In smoke mode (`BONDLAB_SMOKE=1`) everything shrinks to a few steps; the numbers then mean little.
"""),
    code(r"""
import matplotlib.pyplot as plt
import torch
from IPython.display import display

from bondlab.lm import load_pretrained, VaderReward, train_proxy
from bondlab.lm.corpus import PROMPT_OPENINGS
from bondlab.lm.demo import DemoConfig, run_demo, run_exact, format_table
from bondlab.lm.jbond import JBondConfig, train_jbond, text_reward
from bondlab.lm.metrics import texts_of
from bondlab.plots.lm import plot_reward_vs_kl, plot_training_curve, plot_exact_tracking
from bondlab.smoke import smoke_mode, pick
from bondlab.widgets.lm import jbond_panel

torch.set_num_threads(1)   # the model is small: one thread is as fast as two, and steadier
SMOKE = smoke_mode()
ref, tok = load_pretrained("reviews")
gold, proxy = VaderReward(), train_proxy()
print(f"pi_ref: {ref.num_params():,} parameters; smoke mode: {SMOKE}")
"""),
    md(r"""
## Samples from $\pi_\mathrm{ref}$, before any training

Temperature 1, no top-k: these are samples of the model's true distribution. Note the gold and proxy scores.
"""),
    code(r"""
def show(model, prompts, seed=0):
    comp, _ = model.generate(tok.encode_prompts(prompts), 24, torch.Generator().manual_seed(seed))
    texts = texts_of(tok, prompts, comp)
    for t, g, p in zip(texts, gold(texts), proxy(texts)):
        print(f"gold {g:+.2f}  proxy {p:+.2f}  | {t}")

prompts = ["the food was", "the movie is", "the service was", "the hotel is", "the plot was", "the staff is"]
show(ref, prompts)
"""),
    md(r"""
## The whole comparison

`run_demo` is what `bondlab demo` runs: Best-of-N for $N = 1 \dots 16$ on one set of candidates, J-BOND until
its stop, then REINFORCE with $\beta_\mathrm{RL} \in \{0.01, 0.1, 1\}$. It takes a few minutes in full mode.
"""),
    code(r"""
cfg = DemoConfig.smoke_config() if SMOKE else DemoConfig(target_n=8)
result = run_demo(cfg, ref=ref, tokenizer=tok, gold=gold, proxy=proxy)
print(format_table(result.data))
"""),
    md(r"""
Read the table: `samples_per_prompt` is the inference cost (N for Best-of-N, 1 for a trained policy);
`wall s` is sampling time for Best-of-N and *training* time for J-BOND and REINFORCE. Does J-BOND reach
the Best-of-N reward at one sample? At what KL, compared with Best-of-N's own bound?

The figure puts every method on the reward/KL plane: Best-of-N as points at its analytic KL, the trained
methods as trajectories (one point per evaluation), the star where J-BOND stopped. A method whose curve lies
**up and to the left** of another's gets more reward per nat of KL.
"""),
    code(r"""
fig, axes = plt.subplots(1, 3, figsize=(16, 4.2))
plot_reward_vs_kl(result.data, ax=axes[0])
plot_training_curve(result.data, "quantile", ax=axes[1], target=result.data["config"]["quantile_target"])
plot_training_curve(result.data, "kl", ax=axes[2])
plt.show()
"""),
    md("## Samples after J-BOND (one sample each, no Best-of-N at inference)"),
    code(r"""
show(result.policies["jbond"], prompts)
"""),
    md(r"""
## Sliders: what a target N asks for

Move **target N** to see the quantile J-BOND would stop at, the Best-of-N KL bound (dotted line) and the
Best-of-N reward measured above. β, η, γ and the learning rate set the configuration the next cell trains
with (the sliders never train by themselves).
"""),
    code(r"""
panel = jbond_panel(result.data, base=JBondConfig(max_steps=pick(400, 6), batch_prompts=pick(64, 16),
                                                   eval_every=pick(10, 3)))
display(panel.widget)
"""),
    code(r"""
run = train_jbond(ref, tok, PROMPT_OPENINGS, text_reward(tok, gold), panel.state["config"],
                  evaluate=result.evaluate)
last = run.history[-1]
print(f"stopped: {run.stop_reason} after {run.steps} steps, {run.train_s:.0f} s;"
      f" quantile {last['quantile']:.3f}, KL {last['kl']:.2f}, gold reward {last['reward']:.3f}")
"""),
    md(r"""
## Over-optimization: keep going past the stop

The stop is not decoration. Below, J-BOND continues from where it stopped with both stops switched off.
Watch the gold reward creep towards 1, the KL to $\pi_\mathrm{ref}$ explode, the end-of-text rate fall, and the
samples turn into strings of superlatives that fill the length limit. That is reward hacking of the *gold*
reward itself: VADER rewards piling up positive words, and nothing in "maximise the quantile" says stop.
(Full mode runs 500 more steps, a few minutes; in our run the KL passed 20 nats after 300 and the end token
was lost after about 400–450.)
"""),
    code(r"""
keep = JBondConfig(keep_going=True, max_steps=pick(500, 6), eval_every=pick(25, 3), seed=1)
over = train_jbond(ref, tok, PROMPT_OPENINGS, text_reward(tok, gold), keep, evaluate=result.evaluate,
                   policy=result.policies["jbond"], desc="J-BOND keep going")
steps = [h["step"] for h in over.history]
fig, axes = plt.subplots(1, 3, figsize=(15, 3.6))
for ax, key in zip(axes, ["reward", "kl", "end_frac"]):
    ax.plot(steps, [h[key] for h in over.history], "o-")
    ax.set_xlabel("steps past the stop"); ax.set_title(key)
plt.show()
show(over.policy, prompts)
"""),
    md(r"""
## The proxy reward can be fooled

The proxy is a bag of words: it cannot see "not". Compare the two rewards on a few hand-written reviews.
"""),
    code(r"""
texts = ["the food was great .", "the food was not great .", "the food was not bad .", "the food was bad .",
         "the food was great great great great ."]
for t, g, p in zip(texts, gold(texts), proxy(texts)):
    print(f"gold {g:+.2f}  proxy {p:+.2f}  | {t}")
"""),
    md(r"""
## The exact view: the micro GPT

On the micro language every sequence can be enumerated (19,531 of them), so the true distance from the
policy to Best-of-$2^m$ of $\pi_\mathrm{ref}$ can be computed at every step. Here J-BOND runs with a **hard**
anchor, replaced every few steps (dotted lines): after $M$ replacements its target is Best-of-$2^M$.
"""),
    code(r"""
exact = run_exact(DemoConfig.smoke_config(target_n=8) if SMOKE else DemoConfig(target_n=8))
fig, axes = plt.subplots(1, 2, figsize=(13, 3.8))
plot_exact_tracking(exact, "backward", ax=axes[0])
plot_exact_tracking(exact, "forward", ax=axes[1])
plt.show()
print("exact KL(BoN_N || pi_ref):", {n: round(v, 3) for n, v in exact["bon_kl_exact"].items()},
      " bound:", {n: round(v, 3) for n, v in exact["bon_kl_bound"].items()})
"""),
    md(r"""
## Summary

* J-BOND turns the tiny GPT into a policy whose **single** samples score like Best-of-N samples from
  $\pi_\mathrm{ref}$; the stop at $\mathbb{E}[p_\le] = N/(N+1)$ makes "distil Best-of-N" a concrete target.
* The price is KL: compare J-BOND's KL at the stop with $\log N - (N-1)/N$, what Best-of-N itself pays.
* REINFORCE with a KL penalty is a strong baseline at this scale; whether J-BOND or REINFORCE holds the better
  reward/KL front is a measurement, not a given (the paper's Gemma-scale claim need not transfer).
* Without a stop, any reward is hacked, even the gold one: superlatives, no end token, exploding KL.
"""),
    md(r"""
## Exercises

Predict first, then run.

1. **The proxy is fooled.** Train J-BOND on the proxy reward instead of the gold one
   (`text_reward(tok, proxy)` in the training call) and evaluate with the gold reward. Find samples the
   proxy rates highly and VADER does not. Which words does the policy learn to exploit? (Hint: "not".)
2. **The regulariser.** Train to a Best-of-4 target with γ = 0 and with γ = 2, then with η = 0.5. How do the
   KL at the stop and the number of steps change? What does η = 0.5 do to the anchor?
3. **Fair budgets.** The comparison above gave REINFORCE the same *seconds* as J-BOND. Give REINFORCE
   (β_RL = 0.1) the same number of *steps* instead. Which method now gets more gold reward per nat of KL?
   Count the samples each method drew.
"""),
    exercise(1, "the proxy is fooled"),
    solution_code(1, "J-BOND on the proxy reward; the samples the proxy likes and VADER does not", r"""
on_proxy = train_jbond(ref, tok, PROMPT_OPENINGS, text_reward(tok, proxy),
                       JBondConfig(keep_going=True, max_steps=pick(150, 4), batch_prompts=pick(64, 8),
                                   eval_every=pick(25, 2), seed=2),
                       evaluate=result.evaluate, desc="J-BOND on the proxy")
first, last = on_proxy.history[0], on_proxy.history[-1]
print(f"after {on_proxy.steps} steps: proxy reward {first['proxy_reward']:+.3f} -> {last['proxy_reward']:+.3f},"
      f" gold reward {first['reward']:+.3f} -> {last['reward']:+.3f}, KL {last['kl']:.2f}")
probe = list(PROMPT_OPENINGS) * 4
comp, _ = on_proxy.policy.generate(tok.encode_prompts(probe), 24, torch.Generator().manual_seed(5))
texts = texts_of(tok, probe, comp)
g, p = gold(texts), proxy(texts)
order = (p - g).argsort()[::-1][:6]                      # where the proxy is most over-optimistic
for i in order:
    print(f"proxy {p[i]:+.2f}  gold {g[i]:+.2f}  | {texts[i]}")
share_not = sum("not" in texts[i].split() for i in order) / len(order)
print(f"'not' appears in {share_not:.0%} of these, and in {sum('not' in t.split() for t in texts) / len(texts):.0%} of all samples")
"""),
    solution_md(1, r"""
The proxy's score climbs far faster than the gold one (in a full run, proxy +0.01 → +1.75 against gold
+0.07 → +0.75 after 150 steps): the policy learns what a bag of words likes, which is *more positive
words*. The samples the proxy over-rates most pile superlatives around a negative clause ("... but the staff
is not truly pleasant", "... but the room was very terrible"): a bag-of-words model adds up "truly",
"pleasant", "superb" whether or not they are negated or contradicted, while VADER reads negation and "but".
Check the printed shares before blaming "not" alone: in our run "not" was hardly more frequent among the
worst cases than among all samples, so the additive scoring, not one word, is the blind spot being
exploited. That is reward over-optimization at LM scale. (In smoke mode the run is too short to show
much; run the notebook in full mode.)
"""),
    exercise(2, "the regulariser"),
    solution_code(2, "steps and KL at the Best-of-4 stop for (gamma, eta) = (0, 0.05), (2, 0.05), (0, 0.5)", r"""
from bondlab import bon_kl_bound

for gamma, eta in ((0.0, 0.05), (2.0, 0.05), (0.0, 0.5)):
    run_ge = train_jbond(ref, tok, PROMPT_OPENINGS, text_reward(tok, gold),
                         JBondConfig(target_n=4, gamma=gamma, eta=eta, max_steps=pick(200, 4),
                                     batch_prompts=pick(32, 8), eval_every=pick(10, 2), seed=3),
                         evaluate=result.evaluate, desc=f"gamma={gamma} eta={eta}")
    h = run_ge.history[-1]
    print(f"gamma={gamma:3.1f} eta={eta:4.2f}: {run_ge.stop_reason:>9s} after {run_ge.steps:3d} steps;"
          f" quantile {h['quantile']:.3f}, KL {h['kl']:.2f} (Best-of-4 bound {bon_kl_bound(4):.2f}), gold {h['reward']:.3f}")
"""),
    solution_md(2, r"""
γ adds the descent direction of γ·KL(π‖π_anchor) (bondlab implements the sign that lowers it; arXiv v1
prints the opposite sign): every step is pulled back towards the anchor, so the policy moves more slowly
and the stop comes later, usually at a similar or slightly lower KL to π_ref. With η = 0.5 the anchor
follows the policy almost at once: the backward reward −log 16 then compares the policy with (nearly)
itself, the target Best-of-2(anchor) keeps moving, and the run behaves like aggressive iterative BOND:
fewer steps per unit of quantile, but more KL for the same quantile.
"""),
    exercise(3, "fair budgets"),
    solution_code(3, "REINFORCE (beta_RL = 0.1) with J-BOND's number of steps; reward, KL and samples drawn", r"""
from bondlab.lm.reinforce import ReinforceConfig, train_reinforce

jb = result.data["methods"]["jbond"]
rcfg = ReinforceConfig(beta_rl=0.1, max_steps=jb["steps"], batch_prompts=pick(32, 8), eval_every=pick(10, 2), seed=4)
rf = train_reinforce(ref, tok, PROMPT_OPENINGS, text_reward(tok, gold), rcfg, evaluate=result.evaluate,
                     desc="REINFORCE, same steps")
h = rf.history[-1]
jb_prompts = result.data["config"]["jbond"]["batch_prompts"]
print(f"J-BOND    : {jb['steps']} steps, {3 * jb_prompts * jb['steps']:6d} samples drawn; gold {jb['reward']:.3f} at KL {jb['kl']:.2f}"
      f" -> {jb['reward'] / max(jb['kl'], 1e-9):.2f} reward per nat")
print(f"REINFORCE : {rf.steps} steps, {rcfg.samples_per_prompt * rcfg.batch_prompts * rf.steps:6d} samples drawn;"
      f" gold {h['reward']:.3f} at KL {h['kl']:.2f} -> {h['reward'] / max(h['kl'], 1e-9):.2f} reward per nat")
"""),
    solution_md(3, r"""
"Same budget" has no single meaning: J-BOND draws three samples per prompt (one policy, two anchor) and
scores all three; REINFORCE here draws two. With equal steps REINFORCE sees fewer samples and moves less, so
it usually ends at a lower reward *and* a lower KL; reward per nat is then the fairer comparison, and it can
go either way. Report which budget you held fixed (seconds, steps, samples, or reward-model calls) whenever
you compare RLHF methods: the paper's Gemma-scale curves hold the step count fixed.
"""),
]


def main():
    write(NB06, HERE / "06_small_lm_bond.ipynb")


if __name__ == "__main__":
    main()
