"""The demo's two evaluation sets: the stop rule reads the selection set, every reported number the report set
(checked by recomputing each from bondlab.lm.metrics on that set alone), and the intervals, the front and the
paired difference in the JSON are what bondlab.intervals gives on the kept per-prompt values."""
import numpy as np
import pytest
import torch
from demo_helpers import tiny_demo, tiny_gpt

from bondlab.intervals import front_intervals, history_intervals, mean_interval, paired_difference
from bondlab.lm.corpus import PROMPT_OPENINGS, review_tokenizer
from bondlab.lm.demo_eval import EvalSet, TwoSetEvaluator, eval_sets, interval_rng
from bondlab.lm.jbond import JBondConfig, quantile_target, text_reward, train_jbond
from bondlab.lm.metrics import RefPool, evaluate
from bondlab.lm.rewards import VaderReward
from bondlab.outputs import dumps


@pytest.fixture(scope="module")
def demo():
    return tiny_demo(seed=3)


def test_sets_share_no_randomness():
    tok, gold = review_tokenizer(), VaderReward()
    sel, rep = eval_sets(tiny_gpt(tok), tok, gold, seed=2, report_prompts=30, select_prompts=30, ref_k=4,
                         max_new_tokens=6)
    assert sel.seed != rep.seed and sel.texts != rep.texts and len(rep.texts) == len(sel.texts) == 30
    assert set(sel.pool.rewards) == set(rep.pool.rewards) == set(PROMPT_OPENINGS)
    assert any(not np.array_equal(sel.pool.rewards[p], rep.pool.rewards[p]) for p in PROMPT_OPENINGS)


def test_reported_numbers_come_from_the_report_set_alone(demo):
    """History columns at step 0 (the policy is pi_ref) recomputed by metrics.evaluate on each set alone."""
    cfg, h = demo.data["config"], demo.data["history"]["jbond"]
    ev = demo.evaluate
    for eval_set, prefix in ((ev.report, ""), (ev.select, "select_")):
        want = evaluate(demo.ref, demo.ref, demo.tokenizer, eval_set.texts, demo.gold, None, eval_set.pool,
                        torch.Generator().manual_seed(eval_set.seed), cfg["max_new_tokens"])
        for key in ("reward", "quantile", "kl"):
            assert h[prefix + key][0] == pytest.approx(want[key], rel=1e-12, abs=1e-12), (prefix, key)
    assert len(ev.report.texts) == cfg["eval_prompts"] and len(ev.select.texts) == cfg["select_prompts"]
    pp = demo.per_prompt["jbond"]
    assert pp["report"]["reward"].shape == (len(h["step"]), cfg["eval_prompts"])
    assert pp["select"]["kl"].shape == (len(h["step"]), cfg["select_prompts"])


def test_stop_rule_reads_the_selection_set():
    """A selection pool below every reward makes every selection quantile 1: J-BOND stops at its first
    check, while the report set (an honest pool) shows pi_ref's quantile, far from the target."""
    tok, gold = review_tokenizer(), VaderReward()
    ref = tiny_gpt(tok)
    sel, rep = eval_sets(ref, tok, gold, seed=1, report_prompts=16, select_prompts=16, ref_k=4, max_new_tokens=6)
    low = RefPool({p: np.full(4, -2.0) for p in PROMPT_OPENINGS}, 4)        # VADER lies in [-1, 1]
    ev = TwoSetEvaluator(ref, tok, gold, None, EvalSet("select", sel.texts, low, sel.seed), rep, 6)
    cfg = JBondConfig(max_steps=6, batch_prompts=4, eval_every=2, max_new_tokens=6, target_n=8)
    res = train_jbond(ref, tok, PROMPT_OPENINGS, text_reward(tok, gold), cfg, evaluate=ev, progress=False)
    assert res.stop_reason == "target" and res.steps == 2
    last = res.history[-1]
    assert last["quantile"] == 1.0 and np.all(last["select"]["quantile"] == 1.0)
    assert last["report"]["quantile"].mean() < quantile_target(8)


def test_intervals_are_the_bootstrap_of_the_kept_values(demo):
    seed, data = demo.data["config"]["seed"], demo.data
    for name in ("jbond", "reinforce_0.1"):
        rep, h, m = demo.per_prompt[name]["report"], data["history"][name], data["methods"][name]
        ivs = history_intervals({k: rep[k] for k in ("reward", "kl", "quantile")}, interval_rng(seed, name))
        for k in ("reward", "kl", "quantile"):
            assert [h[f"{k}_lo"], h[f"{k}_hi"]] == [[iv.lo for iv in ivs[k]], [iv.hi for iv in ivs[k]]]
            assert m[f"{k}_ci"] == [ivs[k][-1].lo, ivs[k][-1].hi] and m[k] == h[k][-1]
    bon = demo.per_prompt["best-of-n"]["bon_8"]
    assert data["methods"]["bon_8"]["reward_ci"] == pytest.approx(
        mean_interval(bon, interval_rng(seed, "best-of-n")).as_list(), rel=1e-12)
    diff = paired_difference(demo.per_prompt["jbond"]["report"]["reward"][-1], bon, interval_rng(seed, "jbond minus bon"))
    assert data["methods"]["jbond"]["reward_minus_bon"] == pytest.approx(data["methods"]["jbond"]["reward"]
                                                                         - data["methods"]["bon_8"]["reward"])
    assert data["methods"]["jbond"]["reward_minus_bon_ci"] == diff.as_list()


def test_front_is_chosen_on_selection_and_read_on_report(demo):
    data, seed = demo.data, demo.data["config"]["seed"]
    f = data["front"]
    assert f["kls"] == data["config"]["front_kls"]
    for name, pts in f["methods"].items():
        pp = demo.per_prompt[name]
        want = front_intervals(pp["report"]["reward"], pp["report"]["kl"], f["kls"], interval_rng(seed, f"front {name}"),
                               select_reward=pp["select"]["reward"], select_kl=pp["select"]["kl"])
        for got, w in zip(pts, want):
            assert got["reward"] == w.reward.estimate and got["reward_ci"] == w.reward.as_list()
            assert got["step"] == data["history"][name]["step"][w.index]
    for k, b in zip(f["kls"], f["best_of_n"]):
        bons = [m for n, m in data["methods"].items() if (n == "ref" or n.startswith("bon_")) and m["kl"] <= k]
        assert b["reward"] == max(m["reward"] for m in bons)


def test_json_keeps_intervals_not_per_prompt_arrays(demo):
    text = dumps(demo.data)
    assert "per_prompt" not in demo.data and "report" not in demo.data["history"]["jbond"]
    assert len(text) < 60_000
