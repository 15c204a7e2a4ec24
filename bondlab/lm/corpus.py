"""The two generated languages the tiny GPTs learn, and their word-level tokenizer.

* Reviews: a seeded probabilistic grammar of short English reviews ("the food was not very good but the
  service was great ."). Adjectives carry graded sentiment, intensifiers and negation modify them, "but"
  joins a contrasting clause. Every polarity choice is a fair coin, so the corpus is balanced: its mean
  VADER score is near 0, and Best-of-N has room to raise it (Sessa et al. 2024, Sec. 3).
* Micro: strings over five symbols a..e of length <= 6 from a Markov chain, small enough that every
  sequence can be enumerated (see ``bondlab.lm.exact``).

Nothing is downloaded: the corpora are generated from a numpy Generator.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .. import _validate as V

__all__ = ["Tokenizer", "review_tokenizer", "micro_tokenizer", "sample_reviews", "sample_micro",
           "review_prompts", "PROMPT_OPENINGS", "SUBJECTS", "VERBS", "POSITIVE", "NEGATIVE", "MICRO_SYMBOLS",
           "MICRO_LENGTH", "micro_reward", "PAD", "END", "BOS"]

PAD, END, BOS = "<pad>", "<end>", "<bos>"

# ---------------------------------------------------------------------------------------- review grammar
SUBJECTS = ["the movie", "the food", "the service", "the staff", "the room", "the plot", "the music",
            "the book", "the hotel", "the price"]
VERBS = ["was", "is", "felt", "seemed"]
INTENSIFIERS = ["very", "really", "quite", "so", "truly", "extremely"]
# graded sentiment, mild -> strong; the two lists mirror each other in VADER strength
POSITIVE = ["fine", "decent", "nice", "good", "pleasant", "great", "wonderful", "excellent", "amazing", "superb"]
NEGATIVE = ["dull", "poor", "boring", "bad", "mediocre", "awful", "terrible", "horrible", "disappointing", "dreadful"]
CLOSERS_POS = ["i loved it", "i would come back", "highly recommended", "worth every penny"]
CLOSERS_NEG = ["i hated it", "never again", "not recommended", "a waste of money"]
PROMPT_OPENINGS = [f"{s} {v}" for s in SUBJECTS for v in VERBS[:2]]


@dataclass(frozen=True)
class Tokenizer:
    """Word-level tokenizer: ids 0, 1, 2 are <pad>, <end>, <bos>; words follow in a fixed order."""
    words: tuple  # every token, specials first

    @property
    def pad_id(self) -> int:
        return 0

    @property
    def end_id(self) -> int:
        return 1

    @property
    def bos_id(self) -> int:
        return 2

    @property
    def vocab_size(self) -> int:
        return len(self.words)

    def __post_init__(self):
        if tuple(self.words[:3]) != (PAD, END, BOS):
            raise ValueError(f"words must start with {PAD}, {END}, {BOS}")
        object.__setattr__(self, "_index", {w: i for i, w in enumerate(self.words)})

    def encode(self, text: str) -> list[int]:
        """Words -> ids (no BOS/END added). Unknown words raise a ValueError naming them."""
        if not isinstance(text, str):
            raise ValueError(f"text must be a string, got {type(text).__name__}")
        ids, unknown = [], []
        for w in text.replace(".", " . ").split():
            (ids.append(self._index[w]) if w in self._index else unknown.append(w))
        if unknown:
            raise ValueError(f"text contains words outside the vocabulary: {unknown[:5]}")
        return ids

    def decode(self, ids) -> str:
        """Ids -> text, stopping at the end token; <bos> and <pad> are dropped."""
        out = []
        for i in (ids.tolist() if isinstance(ids, torch.Tensor) else list(ids)):
            if i == self.end_id:
                break
            if i not in (self.pad_id, self.bos_id):
                out.append(self.words[i])
        return " ".join(out)

    def encode_prompts(self, prompts) -> torch.Tensor:
        """A list of B prompt strings of one length in words -> (B, 1 + P) long tensor starting with <bos>."""
        if isinstance(prompts, str):
            prompts = [prompts]
        rows = [[self.bos_id] + self.encode(p) for p in prompts]
        if not rows:
            raise ValueError("prompts must not be empty")
        if len({len(r) for r in rows}) != 1:
            raise ValueError("prompts in one batch must have the same number of words (group them by length)")
        return torch.tensor(rows, dtype=torch.long)

    def encode_corpus(self, texts, length: int) -> torch.Tensor:
        """Texts -> (M, length) long: <bos> text <end> <pad>...; longer texts raise a ValueError."""
        out = torch.full((len(texts), length), self.pad_id, dtype=torch.long)
        for j, t in enumerate(texts):
            ids = [self.bos_id] + self.encode(t) + [self.end_id]
            if len(ids) > length:
                raise ValueError(f"text {t!r} needs {len(ids)} tokens, more than length {length}")
            out[j, :len(ids)] = torch.tensor(ids)
        return out


def review_tokenizer() -> Tokenizer:
    """The review vocabulary: specials, '.', then every grammar word in a fixed order."""
    words = [PAD, END, BOS, ".", "but", "not", "it"]
    for group in (SUBJECTS, VERBS, INTENSIFIERS, POSITIVE, NEGATIVE, CLOSERS_POS, CLOSERS_NEG):
        for phrase in group:
            for w in phrase.split():
                if w not in words:
                    words.append(w)
    return Tokenizer(tuple(words))


def _clause(rng: np.random.Generator, polarity: int, subject: str | None = None) -> tuple[str, int]:
    """One clause with the asked-for *meaning* (+1 or -1); negation flips the adjective it modifies."""
    subject = subject or SUBJECTS[rng.integers(len(SUBJECTS))]
    verb = VERBS[rng.integers(len(VERBS))]
    negate = rng.random() < 0.2
    adj_pol = -polarity if negate else polarity
    adjs = POSITIVE if adj_pol > 0 else NEGATIVE
    words = [subject, verb]
    if negate:
        words.append("not")
    if rng.random() < 0.4:
        words.append(INTENSIFIERS[rng.integers(len(INTENSIFIERS))])
    words.append(adjs[rng.integers(len(adjs))])
    return " ".join(words), polarity


def sample_reviews(num: int, rng: np.random.Generator) -> list[str]:
    """``num`` reviews from the grammar. Each review's overall polarity is a fair coin; a "but" clause
    contrasts with it (80%), and an optional closer follows the last clause's meaning."""
    num = V.positive_int(num, "num")
    rng = V.rng(rng)
    out = []
    for _ in range(num):
        pol = 1 if rng.random() < 0.5 else -1
        text, last = _clause(rng, pol)
        if rng.random() < 0.35:
            last = -pol if rng.random() < 0.8 else pol
            second = "it" if rng.random() < 0.2 else None
            clause, _ = _clause(rng, last, second)
            text += " but " + clause
        text += " ."
        if rng.random() < 0.3:
            closers = CLOSERS_POS if last > 0 else CLOSERS_NEG
            text += " " + closers[rng.integers(len(closers))] + " ."
        out.append(text)
    return out


def review_prompts(num: int, rng: np.random.Generator) -> list[str]:
    """``num`` review openings ("the food was"), all three words long so they batch together."""
    num = V.positive_int(num, "num")
    rng = V.rng(rng)
    return [PROMPT_OPENINGS[i] for i in rng.integers(len(PROMPT_OPENINGS), size=num)]


# ---------------------------------------------------------------------------------------- micro language
MICRO_SYMBOLS = ["a", "b", "c", "d", "e"]
MICRO_LENGTH = 6  # longest sequence: a sequence stops at <end> or after 6 tokens
# P(<end> | k symbols so far), k = 0..5; after 6 symbols the sequence is cut
_MICRO_STOP = [0.05, 0.1, 0.15, 0.2, 0.3, 0.4]


def micro_tokenizer() -> Tokenizer:
    """8 tokens: <pad>, <end>, <bos> and a..e. The model emits only <end> and a..e (6 tokens)."""
    return Tokenizer((PAD, END, BOS, *MICRO_SYMBOLS))


def sample_micro(num: int, rng: np.random.Generator) -> list[str]:
    """``num`` micro strings: the first symbol uniform, then a Markov chain that favours the next letter
    in the cycle a->b->c->d->e->a (prob 0.5, others 0.125), stopping with ``_MICRO_STOP`` by length."""
    num = V.positive_int(num, "num")
    rng = V.rng(rng)
    out = []
    for _ in range(num):
        seq = []
        prev = None
        while len(seq) < MICRO_LENGTH and rng.random() >= _MICRO_STOP[len(seq)]:
            if prev is None:
                s = int(rng.integers(5))
            else:
                p = np.full(5, 0.125)
                p[(prev + 1) % 5] = 0.5
                s = int(rng.choice(5, p=p))
            seq.append(s)
            prev = s
        out.append(" ".join(MICRO_SYMBOLS[s] for s in seq))
    return out


def micro_reward(completions: torch.Tensor) -> torch.Tensor:
    """Micro reward with 5 levels: #a - #e counted before the end token, clipped to [-2, 2].

    completions: (S, T) token ids of the micro tokenizer -> (S,) float64.
    """
    tok = micro_tokenizer()
    mask = torch.ones_like(completions, dtype=torch.bool)
    is_end = completions == tok.end_id
    mask = (torch.cumsum(is_end.long(), 1) == 0) & mask
    a = ((completions == tok.words.index("a")) & mask).sum(1)
    e = ((completions == tok.words.index("e")) & mask).sum(1)
    return torch.clamp(a - e, -2, 2).double()
