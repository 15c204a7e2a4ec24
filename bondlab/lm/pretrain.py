"""Pretraining the two tiny GPTs on their generated corpora (next-token cross-entropy, AdamW, cosine decay).

``bondlab lm pretrain --model reviews|micro`` calls :func:`pretrain` and writes the checkpoint; the shipped
ones in ``bondlab/lm/assets/`` were made that way with the defaults below.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .. import _validate as V
from .corpus import Tokenizer, micro_tokenizer, review_tokenizer, sample_micro, sample_reviews
from .model import GPT, GPTConfig

__all__ = ["TrainConfig", "MODEL_NAMES", "model_config", "train_config", "corpus_for", "pretrain", "pretrain_and_save"]

MODEL_NAMES = ("reviews", "micro")


@dataclass
class TrainConfig:
    steps: int = 2000          # optimizer steps
    batch_size: int = 64       # sequences per step
    lr: float = 2e-3           # peak learning rate (AdamW), cosine-decayed to lr / 10
    warmup: int = 100          # linear warm-up steps
    weight_decay: float = 0.01  # AdamW decoupled weight decay
    corpus_size: int = 50_000  # generated training sequences
    seed: int = 0              # seeds the corpus, the initialisation and the batches


def model_config(name: str) -> GPTConfig:
    """The architecture of a shipped model."""
    if name == "reviews":
        tok = review_tokenizer()
        return GPTConfig(vocab_size=tok.vocab_size, block_size=32, n_layer=4, n_head=4, n_embd=128,
                         end_id=tok.end_id, pad_id=tok.pad_id, no_emit=(tok.pad_id, tok.bos_id))
    if name == "micro":
        tok = micro_tokenizer()
        return GPTConfig(vocab_size=tok.vocab_size, block_size=8, n_layer=2, n_head=2, n_embd=32,
                         end_id=tok.end_id, pad_id=tok.pad_id, no_emit=(tok.pad_id, tok.bos_id))
    raise ValueError(f"model must be one of {MODEL_NAMES}, got {name!r}")


def train_config(name: str) -> TrainConfig:
    """The training recipe of a shipped model."""
    if name == "reviews":
        return TrainConfig()
    if name == "micro":
        return TrainConfig(steps=2000, batch_size=128, lr=3e-3, corpus_size=100_000)
    raise ValueError(f"model must be one of {MODEL_NAMES}, got {name!r}")


def corpus_for(name: str, num: int, rng: np.random.Generator) -> tuple[Tokenizer, torch.Tensor]:
    """(tokenizer, (M, length) token ids) of a generated corpus: <bos> text <end> <pad>..."""
    if name == "reviews":
        tok = review_tokenizer()
        return tok, tok.encode_corpus(sample_reviews(num, rng), model_config(name).block_size)
    if name == "micro":
        tok = micro_tokenizer()
        return tok, tok.encode_corpus(sample_micro(num, rng), model_config(name).block_size)
    raise ValueError(f"model must be one of {MODEL_NAMES}, got {name!r}")


def pretrain(name: str = "reviews", train: TrainConfig | None = None, *, progress: bool = True,
             log_file=None) -> tuple[GPT, Tokenizer, dict]:
    """Train a shipped architecture from scratch; returns ``(model, tokenizer, history)``.

    history: {"loss": [...] per step, "seconds": wall time, "train": the TrainConfig as a dict}.
    """
    train = train or train_config(name)
    V.positive_int(train.steps, "steps")
    V.positive_int(train.batch_size, "batch_size")
    rng = np.random.default_rng(train.seed)
    tok, data = corpus_for(name, train.corpus_size, rng)           # (M, block)
    with torch.random.fork_rng(devices=[]):                         # seed the initialisation without
        torch.manual_seed(train.seed)                               # touching the caller's global RNG
        model = GPT(model_config(name))
    gen = torch.Generator().manual_seed(train.seed)                 # the batches
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": train.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=train.lr, betas=(0.9, 0.98))
    lengths = (data != tok.pad_id).sum(1)                           # (M,) tokens incl. bos and end
    losses = []
    t0 = time.perf_counter()
    bar = tqdm(range(train.steps), desc=f"pretrain {name}", disable=not progress, file=log_file,
               mininterval=2.0)
    model.train()
    for step in bar:
        lr = train.lr * min(1.0, (step + 1) / train.warmup)
        lr *= 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / train.steps))
        for g in opt.param_groups:
            g["lr"] = lr
        idx = torch.randint(0, data.shape[0], (train.batch_size,), generator=gen)
        width = int(lengths[idx].max())
        batch = data[idx, :width]                                   # (B, W)
        x, y = batch[:, :-1], batch[:, 1:].clone()                  # (B, W-1) inputs and targets
        y[y == tok.pad_id] = -100                                   # nothing to learn after <end>
        logits = model(x)                                           # (B, W-1, V)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), ignore_index=-100)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
        if step % 50 == 0:
            bar.set_postfix(loss=f"{np.mean(losses[-50:]):.3f}")
    model.eval()
    history = {"loss": losses, "seconds": time.perf_counter() - t0, "train": asdict(train)}
    return model, tok, history


def pretrain_and_save(name: str, out_dir, train: TrainConfig | None = None, *, progress: bool = True, log_file=None):
    """Pretrain and write ``<out_dir>/<name>.safetensors`` + ``<name>.json``; returns (weights path, history)."""
    from pathlib import Path

    from .checkpoints import save_checkpoint
    train = train or train_config(name)
    model, tok, hist = pretrain(name, train, progress=progress, log_file=log_file)
    meta = {"name": name, "train": asdict(train), "seconds": round(hist["seconds"], 1),
            "final_loss": round(float(np.mean(hist["loss"][-100:])), 4), "torch": torch.__version__}
    path = save_checkpoint(model, tok, Path(out_dir) / name, meta)
    return path, hist
