"""Budgets in deterministic units: the counters (bondlab.lm.budget) against independent counts, and the demo's
budget="samples" mode: REINFORCE gets J-BOND's counted policy samples, and the same seed gives the same table."""
import math

import numpy as np
import pytest
import torch

from demo_helpers import JB, RF, tiny_demo, tiny_gpt

from bondlab.lm.budget import CountingReward, SampleCounter
from bondlab.lm.corpus import review_tokenizer
from bondlab.lm.demo import BON_NS, DemoConfig, format_table, reinforce_budget
from bondlab.lm.model import GPT
from bondlab.lm.reinforce import ReinforceConfig
from bondlab.lm.rewards import VaderReward


class _CountingVader:
    """An independent count: texts the gold reward saw, kept outside the demo's own wrapper."""
    def __init__(self):
        self.inner, self.texts = VaderReward(), 0

    def __call__(self, texts):
        texts = list(texts)
        self.texts += len(texts)
        return self.inner(texts)


@pytest.mark.parametrize("jb", [{}, {"samples_per_prompt": 2, "kl": "exact", "pairs": "all"}])
def test_counts_match_an_independent_count(jb):
    gold = _CountingVader()
    res = tiny_demo(gold=gold, jb=jb)
    m, cfg = res.data["methods"], res.data["config"]
    j, r = m["jbond"], m["reinforce_0.1"]
    # J-BOND: K policy and 2K anchor samples per prompt per step, all scored; its policy samples are the K
    K, B = jb.get("samples_per_prompt", 1), JB["batch_prompts"]
    assert j["policy_samples"] == K * B * j["steps"]
    assert j["samples_drawn"] == j["reward_calls"] == 3 * K * B * j["steps"]
    h = res.data["history"]
    assert h["jbond"]["policy_samples"] == [K * B * s for s in h["jbond"]["step"]]
    assert h["jbond"]["reward_calls"] == [3 * K * B * s for s in h["jbond"]["step"]]
    assert h["reinforce_0.1"]["reward_calls"] == [RF["batch_prompts"] * RF["samples_per_prompt"] * s
                                                  for s in h["reinforce_0.1"]["step"]]
    # REINFORCE: as many whole steps as J-BOND's policy samples allow, every sample its own
    per_step = RF["batch_prompts"] * RF["samples_per_prompt"]
    assert r["steps"] == j["policy_samples"] // per_step
    assert r["policy_samples"] == r["samples_drawn"] == r["reward_calls"] == per_step * r["steps"]
    assert j["policy_samples"] - per_step < r["policy_samples"] <= j["policy_samples"]
    # Best-of-N draws and scores max(N) candidates per report prompt, once
    drawn = res.data["best_of_n_drawn"]
    assert drawn["policy_samples"] == drawn["reward_calls"] == max(BON_NS) * cfg["eval_prompts"]
    # the gold reward saw exactly: the two pools, Best-of-N, the training texts, and one sample per prompt
    # of each set at each evaluation (counted here from the history, independently of the demo's counters)
    evals = sum(len(res.data["history"][k]["step"]) for k in ("jbond", "reinforce_0.1"))
    pools = 2 * 20 * cfg["ref_k"]                                  # 20 prompt openings, each set its own pool
    expected = pools + drawn["reward_calls"] + j["reward_calls"] + r["reward_calls"] \
        + evals * (cfg["eval_prompts"] + cfg["select_prompts"])
    assert gold.texts == expected


@pytest.fixture(scope="module")
def kept():
    """One tiny demo with keep-going (seed 4), shared by the tests that read it."""
    return tiny_demo(seed=4, keep_going=True, keep_going_steps=2)


def test_keep_going_continues_the_count(kept):
    res = kept
    j, k = res.data["methods"]["jbond"], res.data["methods"]["jbond_keep_going"]
    assert k["policy_samples"] == JB["batch_prompts"] * (j["steps"] + 2)
    assert k["samples_drawn"] == k["reward_calls"] == 3 * JB["batch_prompts"] * (j["steps"] + 2)
    h = res.data["history"]["jbond_keep_going"]
    assert h["policy_samples"] == [JB["batch_prompts"] * s for s in h["step"]]
    assert h["reward_calls"] == [3 * JB["batch_prompts"] * s for s in h["step"]]


def test_same_seed_same_table_under_the_samples_budget():
    a, b = tiny_demo(seed=5).data, tiny_demo(seed=5).data
    assert a["history"]["jbond"]["policy_samples"][-1] == a["methods"]["jbond"]["policy_samples"]
    drop = lambda d: {k: v for k, v in d.items() if k != "wall_s"}  # noqa: E731
    for part in ("methods", "history"):
        assert {k: drop(v) for k, v in a[part].items()} == {k: drop(v) for k, v in b[part].items()}
    assert a["front"] == b["front"]
    cut = lambda t: [line[:100] for line in t.splitlines()]        # noqa: E731  (the table up to the seconds)
    assert cut(format_table(a)) == cut(format_table(b))


def test_reinforce_budget_in_counted_units():
    rf = ReinforceConfig(batch_prompts=5, samples_per_prompt=3, max_steps=999)
    for budget, kw in (("samples", {"policy_samples": 100}), ("reward_calls", {"reward_calls": 100})):
        got = reinforce_budget(DemoConfig(budget=budget), rf, jbond_steps=7, jbond_s=1.0, **kw)
        assert (got.max_steps, got.budget_s) == (100 // 15, None)
    assert reinforce_budget(DemoConfig(budget="samples"), rf, 7, 1.0, policy_samples=3).max_steps == 1
    with pytest.raises(ValueError, match="budget"):
        DemoConfig(budget="joules")


def test_sample_counter_counts_rows_pauses_and_restores():
    tok = review_tokenizer()
    gpt, original = tiny_gpt(tok), GPT.__dict__["generate"]
    prompts = tok.encode_prompts(["the movie was"] * 5)
    g = torch.Generator().manual_seed(0)
    with SampleCounter() as outer:
        gpt.generate(prompts, 4, g)
        with SampleCounter() as inner:
            gpt.generate(prompts[:2], 4, g)
            with inner.paused():
                gpt.generate(prompts, 4, g)
        gpt.generate(prompts[:1], 4, g)
    assert (outer.samples, inner.samples) == (5 + 2 + 5 + 1, 2)
    other = tiny_gpt(tok)
    with SampleCounter() as per_model:
        gpt.generate(prompts, 4, g)
        other.generate(prompts[:3], 4, g)
        with per_model.paused():
            other.generate(prompts, 4, g)
    assert (per_model.of(gpt), per_model.of(other), per_model.samples) == (5, 3, 8)
    assert GPT.__dict__["generate"] is original
    with pytest.raises(KeyError):
        with SampleCounter():
            raise KeyError("boom")
    assert GPT.__dict__["generate"] is original                       # restored after an exception too
    same = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    with SampleCounter():
        a = gpt.generate(prompts, 4, same[0])[0]
    assert torch.equal(a, gpt.generate(prompts, 4, same[1])[0])      # counting changes no draw


def test_counting_reward():
    r = CountingReward(lambda t: np.zeros(len(t)))
    r(["a", "b"]), r(iter(["c"]))
    assert (r.texts, r.calls) == (3, 2)
    with pytest.raises(ValueError, match="fn"):
        CountingReward(3)
    assert math.isfinite(float(r(["x"])[0]))


def test_keep_going_leaves_the_stopped_policy_as_it_was(kept):
    """keep-going trains J-BOND's state further; the demo's "jbond" policy is still the one at the stop:
    the same weights as a run without keep-going, and its state continues to the keep-going policy."""
    plain = tiny_demo(seed=4)
    for a, b in zip(plain.policies["jbond"].parameters(), kept.policies["jbond"].parameters()):
        assert torch.equal(a, b)
    assert any(not torch.equal(a, b) for a, b in zip(kept.policies["jbond"].parameters(),
                                                     kept.policies["jbond_keep_going"].parameters()))
    assert kept.jbond_state.step == kept.data["methods"]["jbond_keep_going"]["steps"]
    assert kept.jbond_state.policy.model is kept.policies["jbond_keep_going"]
