"""Rewards: VADER gold and the bag-of-words Bradley-Terry proxy (held-out agreement, and fooled by negation)."""
import numpy as np
import pytest

from bondlab.lm import ProxyConfig, VaderReward, sample_reviews, train_proxy


@pytest.fixture(scope="module")
def gold():
    return VaderReward()


@pytest.fixture(scope="module")
def proxy(gold):
    return train_proxy(ProxyConfig(), gold)


def test_vader_orders_clear_reviews_and_matches_the_package(gold):
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    texts = ["the food was truly excellent . i loved it .", "the food was terrible . never again ."]
    r = gold(texts)
    assert r.dtype == np.float64 and r.shape == (2,)
    assert r[0] > 0.5 and r[1] < -0.3
    sia = SentimentIntensityAnalyzer()
    assert r.tolist() == [sia.polarity_scores(t)["compound"] for t in texts]
    assert gold([]).shape == (0,)


def test_reward_input_errors(gold, proxy):
    for f in (gold, proxy):
        with pytest.raises(ValueError, match="list of strings"):
            f("the food was good")
        with pytest.raises(ValueError, match="strings"):
            f([1, 2])


def test_proxy_prefers_what_gold_prefers_on_held_out_pairs(gold, proxy):
    rng = np.random.default_rng(1234)                      # not the training seed
    a, b = sample_reviews(1500, rng), sample_reviews(1500, rng)
    ga, gb, pa, pb = gold(a), gold(b), proxy(a), proxy(b)
    keep = ga != gb
    agree = np.mean(np.sign(ga - gb)[keep] == np.sign(pa - pb)[keep])
    assert agree > 0.65                                     # well above chance (0.5)


def test_proxy_is_a_bradley_terry_optimum(gold):
    """First-order optimality of the L2-regularised BT likelihood, recomputed independently in numpy."""
    cfg = ProxyConfig(num_pairs=150, seed=3)
    proxy = train_proxy(cfg, gold)
    rng = np.random.default_rng(cfg.seed)
    a, b = sample_reviews(cfg.num_pairs, rng), sample_reviews(cfg.num_pairs, rng)
    p_a = 1 / (1 + np.exp(-(gold(a) - gold(b)) / cfg.temperature))
    y = np.where(rng.random(cfg.num_pairs) < p_a, 1.0, -1.0)
    D = proxy.features(a) - proxy.features(b)
    m = y * (D @ proxy.weights)
    grad = -(D * (y / (1 + np.exp(m)))[:, None]).mean(0) + 2 * cfg.l2 * proxy.weights
    assert np.abs(grad).max() < 1e-5


def test_proxy_is_fooled_by_negation(gold, proxy):
    """A bag of words cannot see "not": it ranks "not great" above "not bad", VADER the other way, and
    it errs far more often on negated reviews than on plain ones."""
    a, b = "the food was not great .", "the food was not bad ."
    assert gold([a])[0] < gold([b])[0]
    assert proxy([a])[0] > proxy([b])[0]
    # negation vs plain, with everything else equal: gold flips the sign, the proxy barely moves
    from bondlab.lm.corpus import NEGATIVE, POSITIVE
    adjs = [w for w in POSITIVE + NEGATIVE if gold([f"the food was {w} ."])[0] != 0]
    wrong_plain = wrong_neg = 0
    for x in adjs:
        for z in adjs:
            if x == z:
                continue
            for neg in (False, True):
                s, t = (f"the food was {'not ' if neg else ''}{w} ." for w in (x, z))
                g = np.sign(gold([s])[0] - gold([t])[0])
                p = np.sign(proxy([s])[0] - proxy([t])[0])
                if g != 0 and g != p:
                    wrong_neg += neg
                    wrong_plain += not neg
    assert wrong_neg > 2 * wrong_plain + 10
