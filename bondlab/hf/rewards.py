"""Rewards for Hugging Face policies: any callable from a list of texts to an array of scores.

* :func:`bondlab.lm.metrics.text_reward` (the same at every scale) checks a callable (list[str] -> (B,)
  finite floats) and turns it into the trainer's sequence reward, reading the texts from the policy;
* :class:`RewardModel` wraps a sequence-classification reward model loaded from a local folder
  (``AutoModelForSequenceClassification``; nothing is downloaded);
* :func:`load_reward` turns the command line's ``--reward`` into one: "vader" (the gold reward of the tiny
  GPT demo, :class:`bondlab.lm.rewards.VaderReward`) or a local path.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .adapter import dtype_kw, require_hf

__all__ = ["RewardModel", "load_reward"]


class RewardModel:
    """r(text) from a sequence-classification model in a local folder, in batches, without grad.

    One output (``num_labels == 1``, the usual Bradley-Terry reward model): its logit. Several outputs:
    the log-odds of ``label`` (an index or a name from ``config.label2id``, e.g. "POSITIVE"),
    logit_label - logsumexp(other logits), which for two labels is the difference of the two logits.
    """

    def __init__(self, path, *, label=None, batch_size: int = 16, max_length: int = 512, device=None, dtype=None):
        transformers = require_hf()
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        if not Path(path).is_dir():
            raise ValueError(f"reward model path {str(path)!r} is not a folder (a local Hugging Face model)")
        kw = {"local_files_only": True, **dtype_kw(dtype)}
        try:
            self.model = transformers.AutoModelForSequenceClassification.from_pretrained(str(path), **kw).eval()
            self.tokenizer = transformers.AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        except (OSError, ValueError) as e:
            raise ValueError(f"reward model {str(path)!r} could not be loaded: {e}") from None
        if device is not None:
            self.model.to(device)
        if self.tokenizer.pad_token_id is None:          # GPT-2-style reward models pad with eos
            self.tokenizer.pad_token = self.tokenizer.eos_token
        if getattr(self.model.config, "pad_token_id", None) is None:
            self.model.config.pad_token_id = self.tokenizer.pad_token_id
        n = int(self.model.config.num_labels)
        if n == 1:
            if label not in (None, 0):
                raise ValueError(f"label must be None for a reward model with one output, got {label!r}")
            self.label = None
        else:
            if isinstance(label, str):
                names = dict(getattr(self.model.config, "label2id", {}) or {})
                if label not in names:
                    raise ValueError(f"label {label!r} is not one of the model's labels {sorted(names)}")
                label = int(names[label])
            if isinstance(label, bool) or not isinstance(label, int) or not 0 <= label < n:
                raise ValueError(f"label must name one of the model's {n} outputs (an index or a name), got {label!r}")
            self.label = label
        self.batch_size = batch_size
        self.max_length = max_length

    @torch.no_grad()
    def __call__(self, texts) -> np.ndarray:
        if isinstance(texts, str):
            raise ValueError("texts must be a list of strings, not one string")
        texts = list(texts)
        out = []
        device = next(self.model.parameters()).device
        for i in range(0, len(texts), self.batch_size):
            enc = self.tokenizer(texts[i:i + self.batch_size], padding=True, truncation=True,
                                 max_length=self.max_length, return_tensors="pt").to(device)
            # ids and mask only: a tokenizer's all-zero token_type_ids would add GPT-2's token 0 embedding
            # to every position in transformers < 5 (BERT-style models default to zeros anyway)
            logits = self.model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits.double()
            if self.label is None:
                out.append(logits[:, 0])
            else:
                others = torch.cat([logits[:, :self.label], logits[:, self.label + 1:]], dim=1)
                out.append(logits[:, self.label] - torch.logsumexp(others, dim=1))
        return torch.cat(out).cpu().numpy() if out else np.zeros(0)


def load_reward(spec: str, **kw):
    """"vader" -> VADER's compound score (bondlab.lm.rewards.VaderReward); a folder -> RewardModel(spec, **kw)."""
    if spec == "vader":
        from ..lm.rewards import VaderReward
        return VaderReward()
    return RewardModel(spec, **kw)
