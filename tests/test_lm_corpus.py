"""The generated languages: reproducibility, tokenizer round trips, balance, the micro chain's law."""
import numpy as np
import pytest
import torch

from bondlab.lm import (micro_reward, micro_tokenizer, review_prompts, review_tokenizer, sample_micro,
                        sample_reviews, VaderReward)
from bondlab.lm.corpus import MICRO_LENGTH, MICRO_SYMBOLS, NEGATIVE, POSITIVE, PROMPT_OPENINGS


def test_reviews_are_reproducible_and_seed_dependent():
    a = sample_reviews(200, np.random.default_rng(5))
    assert a == sample_reviews(200, np.random.default_rng(5))
    assert a != sample_reviews(200, np.random.default_rng(6))


def test_tokenizer_round_trip_and_lengths():
    tok = review_tokenizer()
    texts = sample_reviews(2000, np.random.default_rng(0))
    assert tok.words[:3] == ("<pad>", "<end>", "<bos>") and len(set(tok.words)) == tok.vocab_size
    for t in texts:
        ids = tok.encode(t)
        assert tok.decode(ids) == t
        assert tok.decode([tok.bos_id] + ids + [tok.end_id, 5, 6]) == t      # stops at <end>
    data = tok.encode_corpus(texts, 32)
    assert (data[:, 0] == tok.bos_id).all() and ((data == tok.end_id).sum(1) == 1).all()
    assert set(t.split()[0] for t in texts) == {"the"}


def test_tokenizer_errors():
    tok = review_tokenizer()
    with pytest.raises(ValueError, match="zebra"):
        tok.encode("the zebra was good")
    with pytest.raises(ValueError, match="same number of words"):
        tok.encode_prompts(["the food was", "the food"])
    with pytest.raises(ValueError, match="length"):
        tok.encode_corpus(["the food was good . " * 5], 10)


def test_grammar_uses_negation_contrast_and_both_polarities():
    texts = sample_reviews(3000, np.random.default_rng(1))
    words = [set(t.split()) for t in texts]
    assert np.mean(["not" in w for w in words]) > 0.1
    assert np.mean(["but" in w for w in words]) > 0.2
    pos = np.mean([bool(w & set(POSITIVE)) for w in words])
    neg = np.mean([bool(w & set(NEGATIVE)) for w in words])
    assert abs(pos - neg) < 0.05


def test_corpus_is_balanced_under_vader():
    r = VaderReward()(sample_reviews(3000, np.random.default_rng(2)))
    assert abs(r.mean()) < 0.1                         # mean gold reward near 0
    assert 0.4 < np.mean(r > 0) < 0.6 and r.std() > 0.3


def test_prompts_are_openings_of_one_length():
    ps = review_prompts(100, np.random.default_rng(0))
    assert set(ps) <= set(PROMPT_OPENINGS) and len({len(p.split()) for p in ps}) == 1
    assert review_tokenizer().encode_prompts(ps).shape == (100, 4)
    with pytest.raises(ValueError, match="num"):
        review_prompts(0, np.random.default_rng(0))
    with pytest.raises(ValueError, match="rng"):
        review_prompts(3, 0)


def test_micro_language_follows_its_chain():
    """Monte Carlo against the stated law: stop prob 0.05 at length 0, uniform first symbol, 0.5 to the
    next letter in the cycle."""
    seqs = [s.split() for s in sample_micro(40000, np.random.default_rng(0))]
    assert max(len(s) for s in seqs) == MICRO_LENGTH and all(set(s) <= set(MICRO_SYMBOLS) for s in seqs)
    assert np.mean([len(s) == 0 for s in seqs]) == pytest.approx(0.05, abs=0.005)
    firsts = np.array([MICRO_SYMBOLS.index(s[0]) for s in seqs if s])
    assert np.allclose(np.bincount(firsts) / firsts.size, 0.2, atol=0.01)
    pairs = [(MICRO_SYMBOLS.index(a), MICRO_SYMBOLS.index(b)) for s in seqs for a, b in zip(s, s[1:])]
    nxt = np.mean([(a + 1) % 5 == b for a, b in pairs])
    assert nxt == pytest.approx(0.5, abs=0.01)


def test_micro_tokenizer_and_reward():
    tok = micro_tokenizer()
    assert tok.vocab_size <= 8
    texts = sample_micro(500, np.random.default_rng(3))
    ids = tok.encode_corpus(texts, 8)[:, 1:]                 # drop <bos>
    r = micro_reward(ids)
    expect = [float(np.clip(t.split().count("a") - t.split().count("e"), -2, 2)) for t in texts]
    assert r.tolist() == expect
    assert set(r.tolist()) <= {-2.0, -1.0, 0.0, 1.0, 2.0}
    # tokens after <end> do not count
    a = tok.words.index("a")
    assert micro_reward(torch.tensor([[tok.end_id, a, a]])).item() == 0.0
