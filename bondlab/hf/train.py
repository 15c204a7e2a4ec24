"""Data-parallel J-BOND for Hugging Face causal LMs on torch.distributed, through accelerate.

The step is the tiny GPT's (:func:`bondlab.lm.jbond.jbond_step`: Sessa et al. 2024, Sec. 5, Algorithm 2);
only the data layout is new. With W processes and a global batch of B = W * b prompts per step:

* every process draws the same B prompts and the same uniform numbers from the same seeded generator and
  keeps its own rows (:class:`ShardedUniforms`): it samples y ~ pi and y'1, y'2 ~ pi_anchor and scores
  its b prompts only, and the samples are exactly those one process would draw over the whole batch;
* the loss is :func:`bondlab.objectives.jbond_loss` over the *global* batch: each per-prompt tensor is
  gathered from all processes (this process's rows keep their grad), so the leave-one-out baselines and
  the means run over all B prompts. DDP averages the gradients of W * loss: the sum over processes of each
  one's share, i.e. the gradient of the one-process loss;
* the optimizer steps on identical averaged gradients, so the policy and the EMA anchor
  theta_a <- (1 - eta) theta_a + eta theta stay identical on every process (checked at each checkpoint);
* the metrics are gathered, so every process sees the same numbers and takes the same stop.

Evaluation (every ``eval_every`` steps): one sample per evaluation prompt; its reward; its quantile
p_hat_le against ``ref_samples`` samples of pi_ref for the same prompt (drawn once); and
KL(pi || pi_ref) per sequence, exact over the vocabulary at each token and summed along the policy's own
samples (as :mod:`bondlab.lm.metrics`). Training stops when the mean quantile reaches N/(N+1) (target N),
or the KL exceeds ``kl_budget``, or after ``max_steps``.

Checkpoints: the main process writes ``checkpoint.safetensors`` (policy, anchor, Adam state, the training
generator's state) and ``checkpoint.json`` (step, history, optimizer hyper-parameters, size and sha256 of
the weights) every ``checkpoint_every`` steps and at the end; a run started on the same folder resumes from
it, and ends with the same result as an uninterrupted run. The final policy is also written with
``save_pretrained`` to ``<out>/final`` (safetensors), loadable with ``AutoModelForCausalLM``.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .. import _validate as V
from ..lm.checkpoints import sha256_of
from ..lm.jbond import JBondConfig, _check_stop, _optimizer, jbond_step, quantile_target, sample_prompts
from ..outputs import dumps
from .adapter import HFPolicy, _unwrap
from .rewards import text_reward

__all__ = ["HFJBondConfig", "HFTrainResult", "ShardedUniforms", "train_hf_jbond", "sequence_kl",
           "load_state", "CHECKPOINT"]

CHECKPOINT = "checkpoint"
FORMAT = "bondlab-hf-jbond/1"


@dataclass
class HFJBondConfig(JBondConfig):
    """J-BOND at scale: the defaults follow the paper's Gemma runs (Sec. 6) where it states them."""
    max_steps: int = 1000         # hard cap on optimizer steps
    batch_prompts: int = 128      # GLOBAL prompts per step, split over the processes (the paper: 128)
    lr: float = 3e-6              # Adam learning rate after warm-up (the paper: 3e-6)
    warmup: int = 100             # linear warm-up steps (the paper: 100)
    eta: float = 0.02             # EMA anchor rate (the paper: 0.02 for Gemma 7B)
    max_new_tokens: int = 64      # completion length limit in tokens
    eval_every: int = 50          # steps between evaluations (and stop checks)
    eval_prompts: int = 64        # GLOBAL evaluation prompts (the pool cycled), one policy sample each
    ref_samples: int = 16         # k samples of pi_ref per evaluation prompt for the quantile p_hat_le
    checkpoint_every: int = 50    # steps between checkpoints (and one at the end)

    def __post_init__(self):
        super().__post_init__()
        for name in ("eval_prompts", "ref_samples", "checkpoint_every"):
            setattr(self, name, V.positive_int(getattr(self, name), name))


class ShardedUniforms:
    """Uniform numbers for this process's rows of one global draw (pass it where a generator goes).

    A call ``rand(n, t)`` on a process holding b rows of each block (n = m * b: the policy samples m
    blocks, e.g. m = 2 for the anchor's y'1 and y'2) draws (m, W, b, t) numbers from the shared generator,
    the same on every process, and keeps [:, rank]: the global row j of block i gets the same number as in
    a one-process run over the whole batch (which draws (m, 1, W * b, t) in the same order)."""

    def __init__(self, generator: torch.Generator, rank: int, world: int, b: int):
        self.generator, self.rank, self.world, self.b = generator, rank, world, b

    def rand(self, n: int, t: int) -> torch.Tensor:
        if n % self.b:
            raise ValueError(f"a sharded draw needs a multiple of {self.b} rows, got {n}")
        u = torch.rand(n // self.b, self.world, self.b, t, generator=self.generator, dtype=torch.float64)
        return u[:, self.rank].reshape(n, t)                                          # (n, t)


@dataclass
class HFTrainResult:
    policy: HFPolicy          # the trained policy (unwrapped model)
    anchor: HFPolicy          # the final EMA anchor
    history: list             # one dict per evaluation (same on every process)
    stop_reason: str          # "target", "kl_budget" or "max_steps"
    steps: int                # optimizer steps taken in all (a resumed run counts the earlier ones)
    train_s: float            # wall time in training steps, this launch only
    config: dict              # the config as a dict


@torch.no_grad()
def sequence_kl(policy: HFPolicy, ref: HFPolicy, prompts, completions: torch.Tensor, chunk: int = 8) -> torch.Tensor:
    """(B,) sum_t KL(pi(. | x, y_<t) || pi_ref(. | x, y_<t)) along each completion, exact over the
    vocabulary, masked after the first eos; rows in chunks (the (b, T, V) logits are large)."""
    out = []
    for i in range(0, len(prompts), chunk):
        p, y = list(prompts[i:i + chunk]), completions[i:i + chunk]
        lp, mask = policy.token_logits(p, y)
        lq, _ = ref.token_logits(p, y)
        lp, lq = F.log_softmax(lp.float(), -1), F.log_softmax(lq.float(), -1)      # (b, T, V)
        terms = (lp.exp() * (lp - lq)).sum(-1)                                     # (b, T)
        out.append(torch.where(mask, terms, torch.zeros_like(terms)).sum(1))
    return torch.cat(out)


def _seeded(*key) -> torch.Generator:
    """A generator seeded from a tuple of integers (independent streams per evaluation)."""
    return torch.Generator().manual_seed(int(np.random.SeedSequence(list(key)).generate_state(1)[0]))


# ------------------------------------------------------------------------------------------------ checkpoints
def _paths(out) -> tuple[Path, Path]:
    return Path(out) / f"{CHECKPOINT}.safetensors", Path(out) / f"{CHECKPOINT}.json"


def _save_state(out, model, anchor, opt, gen: torch.Generator, info: dict) -> Path:
    """Write the checkpoint atomically (temporary files, then rename; the sidecar last)."""
    from safetensors.torch import save_file
    weights, sidecar = _paths(out)
    weights.parent.mkdir(parents=True, exist_ok=True)
    names = [n for n, _ in model.named_parameters()]
    state = {f"policy/{n}": p.detach().cpu().contiguous() for n, p in model.named_parameters()}
    state.update({f"anchor/{n}": p.detach().cpu().contiguous() for n, p in anchor.named_parameters()})
    osd = opt.state_dict()
    for i, n in enumerate(names):
        for k, v in osd["state"].get(i, {}).items():
            state[f"opt/{k}/{n}"] = torch.as_tensor(v).detach().cpu().contiguous()
    state["rng/train"] = gen.get_state()
    tmp = weights.with_suffix(".safetensors.tmp")
    save_file(state, str(tmp))
    os.replace(tmp, weights)
    info = {"format": FORMAT, **info, "param_groups": osd["param_groups"], "names": names,
            "file": weights.name, "num_bytes": weights.stat().st_size, "sha256": sha256_of(weights)}
    tmp = sidecar.with_suffix(".json.tmp")
    tmp.write_text(dumps(info) + "\n")            # strict JSON: a non-finite number is written as null
    os.replace(tmp, sidecar)
    return weights


def load_state(out) -> tuple[dict, dict]:
    """(tensors, info) of the checkpoint in ``out``, its size and sha256 checked; a ValueError names the
    file at fault (missing sidecar or weights, damaged sidecar, truncated file, sha256 mismatch)."""
    from safetensors.torch import load as st_load
    weights, sidecar = _paths(out)
    if not sidecar.is_file():
        raise ValueError(f"checkpoint sidecar {sidecar} is missing")
    try:
        info = json.loads(sidecar.read_text())
        num_bytes, sha = int(info["num_bytes"]), str(info["sha256"])
        if info.get("format") != FORMAT:
            raise KeyError(f"format {info.get('format')!r} is not {FORMAT!r}")
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
        raise ValueError(f"checkpoint sidecar {sidecar} is damaged: {e}") from None
    if not weights.is_file():
        raise ValueError(f"checkpoint file {weights} is missing")
    size = weights.stat().st_size
    if size != num_bytes:
        raise ValueError(f"checkpoint file {weights} has {size} bytes, expected {num_bytes}"
                         + (" (truncated)" if size < num_bytes else ""))
    got = sha256_of(weights)
    if got != sha:
        raise ValueError(f"checkpoint file {weights} fails its sha256 check: {got} != recorded {sha}")
    try:
        return st_load(weights.read_bytes()), info
    except Exception as e:  # safetensors raises its own error types
        raise ValueError(f"checkpoint file {weights} is not a readable safetensors file: {e}") from None


def _restore(tensors, info, model, anchor, opt, gen: torch.Generator) -> None:
    names = [n for n, _ in model.named_parameters()]
    if info["names"] != names:
        raise ValueError("checkpoint parameters do not match the model (was it written for another --model?)")
    with torch.no_grad():
        for (n, p), (_, pa) in zip(model.named_parameters(), anchor.named_parameters()):
            p.copy_(tensors[f"policy/{n}"])
            pa.copy_(tensors[f"anchor/{n}"])
    state = {}
    for i, n in enumerate(names):
        s = {k.split("/")[1]: v for k, v in tensors.items() if k.startswith("opt/") and k.split("/", 2)[2] == n}
        if s:
            state[i] = s
    opt.load_state_dict({"state": state, "param_groups": info["param_groups"]})
    gen.set_state(tensors["rng/train"])


def _fingerprint(*models) -> torch.Tensor:
    """(2 * len(models),) float64: plain and position-weighted sums of all parameters (equal models, equal
    numbers; a one-ulp difference anywhere changes them)."""
    out = []
    for m in models:
        flat = torch.cat([p.detach().double().flatten().cpu() for p in m.parameters()])
        out += [flat.sum(), (flat * torch.linspace(1, 2, flat.numel(), dtype=torch.float64)).sum()]
    return torch.stack(out)


# ------------------------------------------------------------------------------------------------ training
def train_hf_jbond(policy: HFPolicy, prompt_pool, reward, cfg: HFJBondConfig | None = None, *, out=None,
                   accelerator=None, resume: bool = True, progress: bool = True) -> HFTrainResult:
    """Data-parallel J-BOND from ``policy`` (pi_ref) on the prompts of ``prompt_pool`` with ``reward``
    (list of texts -> array). Launch one process per device (``accelerate launch``); each builds the same
    policy and calls this. ``out``: folder for checkpoints and the final model (None: nothing written, no
    resume). ``policy.model`` is trained in place (no copy of a large model). Returns the same result on
    every process."""
    from accelerate import Accelerator
    cfg = cfg or HFJBondConfig()
    if not isinstance(cfg, HFJBondConfig):
        raise ValueError(f"cfg must be an HFJBondConfig, got {type(cfg).__name__}")
    if not isinstance(policy, HFPolicy):
        raise ValueError(f"policy must be a bondlab.hf.HFPolicy, got {type(policy).__name__}")
    prompt_pool = list(prompt_pool)
    if not prompt_pool or not all(isinstance(p, str) for p in prompt_pool):
        raise ValueError("prompt_pool must be a non-empty list of prompt texts")
    acc = accelerator or Accelerator()
    W, rank = acc.num_processes, acc.process_index
    for name in ("batch_prompts", "eval_prompts"):
        if getattr(cfg, name) % W:
            raise ValueError(f"{name} ({getattr(cfg, name)}) must be a multiple of the number of processes ({W})")
    b, e = cfg.batch_prompts // W, cfg.eval_prompts // W
    if b * W < 2:
        raise ValueError("batch_prompts must be >= 2 (the leave-one-out baseline)")

    model = _unwrap(policy.model).to(acc.device).eval()       # dropout off: train what is sampled
    for p in model.parameters():
        p.requires_grad_(True)
    opt, sched = _optimizer(model, cfg.lr, cfg.warmup)
    ddp_model, opt = acc.prepare(model, opt)                  # DDP broadcasts rank 0's weights
    pol = HFPolicy(model, policy.tokenizer, cfg.max_new_tokens)          # samples, moves the anchor
    loss_pol = HFPolicy(ddp_model, policy.tokenizer, cfg.max_new_tokens)  # the loss's pass (gradient sync)
    anchor, ref = pol.anchor(), pol.anchor()
    reward_fn = text_reward(pol, reward)
    g = torch.Generator().manual_seed(cfg.seed)
    step, history, reason = 0, [], "max_steps"

    weights, sidecar = _paths(out) if out is not None else (None, None)
    if out is not None and resume and sidecar.is_file():
        tensors, info = load_state(out)
        _restore(tensors, info, model, anchor.model, opt, g)
        sched.last_epoch = info["step"]                       # LambdaLR: lr of step s = lr * f(s)
        step, history, reason = int(info["step"]), list(info["history"]), info["stop_reason"]
        if reason != "max_steps" and not cfg.keep_going:   # it stopped for good
            return HFTrainResult(pol, anchor, history, reason, step, 0.0, asdict(cfg))
        reason = "max_steps"

    def gather(x: torch.Tensor) -> torch.Tensor:              # (b,) -> (B,), own rows keep their grad
        full = acc.gather(x.detach().contiguous())
        return torch.cat([full[:rank * b], x, full[(rank + 1) * b:]])

    # evaluation prompts (the pool cycled) and their pi_ref quantile pool, each process its rows
    eval_local = [prompt_pool[i % len(prompt_pool)] for i in range(rank * e, (rank + 1) * e)]
    k = cfg.ref_samples
    yr, _ = ref.sample(eval_local * k, ShardedUniforms(_seeded(cfg.seed, 1), rank, W, e))
    ref_r = np.sort(np.asarray(reward_fn(eval_local * k, yr).cpu()).reshape(k, e).T, axis=1)   # (e, k)

    def evaluate(s: int) -> dict:
        y, mask = pol.sample(eval_local, ShardedUniforms(_seeded(cfg.seed, 2, s), rank, W, e))
        r = reward_fn(eval_local, y).cpu().numpy()                                  # (e,)
        q = np.array([np.searchsorted(ref_r[i], r[i], side="right") / k for i in range(e)])
        kl = sequence_kl(pol, ref, eval_local, y).double().cpu()
        ended = (y == pol.eos_id).any(1).cpu().double()
        local = torch.stack([torch.as_tensor(r), torch.as_tensor(q), kl, mask.sum(1).double().cpu(), ended], 1)
        g_all = acc.gather(local.to(acc.device)).double().mean(0).tolist()          # (5,)
        return dict(zip(("reward", "quantile", "kl", "length", "end_frac"), g_all))

    def checkpoint(s: int, why: str) -> None:
        fp = acc.gather(_fingerprint(model, anchor.model).to(acc.device)[None]).cpu()   # (W, 4)
        if not torch.equal(fp, fp[:1].expand_as(fp)):
            raise RuntimeError(f"processes disagree on the policy or the anchor at step {s}: {fp.tolist()}")
        if out is not None and acc.is_main_process:
            _save_state(out, model, anchor.model, opt, g, {
                "step": s, "history": history, "stop_reason": why, "config": asdict(cfg),
                "num_processes": W, "fingerprints": fp.tolist()})
        acc.wait_for_everyone()

    target_q = None if cfg.keep_going else quantile_target(cfg.target_n)
    kl_budget = None if cfg.keep_going else cfg.kl_budget
    if step == 0:
        history.append({"step": 0, "loss": float("nan"), **evaluate(0)})
    start, train_s = step, 0.0
    bar = tqdm(range(start + 1, cfg.max_steps + 1), desc="J-BOND (hf)", leave=False,
               disable=not (progress and acc.is_main_process))
    for step in bar:
        t0 = time.perf_counter()
        prompts = sample_prompts(prompt_pool, cfg.batch_prompts, g)[rank * b:(rank + 1) * b]
        loss, batch = jbond_step(pol, anchor, opt, sched, prompts, reward_fn, ShardedUniforms(g, rank, W, b), cfg,
                                 step, loss_policy=loss_pol, gather=gather if W > 1 else None,
                                 backward=lambda loss: acc.backward(loss * W))
        train_s += time.perf_counter() - t0
        if step % cfg.eval_every == 0 or step == cfg.max_steps:
            grad_norm = float(torch.sqrt(sum((p.grad.double() ** 2).sum() for p in model.parameters()
                                             if p.grad is not None)))                # after DDP's all-reduce
            won = (batch.r >= torch.minimum(batch.r_anchor_1, batch.r_anchor_2)).double()   # r_J = 0
            m = acc.gather(torch.stack([batch.r.double(), torch.maximum(batch.r_anchor_1, batch.r_anchor_2).double(),
                                        won], 1)).mean(0).tolist()
            rec = {"step": step, "loss": float(loss.detach()), "train_reward": m[0], "anchor_best_reward": m[1],
                   "not_beaten": m[2], "grad_norm": grad_norm, **evaluate(step)}
            history.append(rec)
            bar.set_postfix(q=f"{rec['quantile']:.3f}", kl=f"{rec['kl']:.2f}")
            stop = _check_stop(rec, target_q, kl_budget)
            if stop:
                reason = stop
                break
        if step % cfg.checkpoint_every == 0 and step < cfg.max_steps:
            checkpoint(step, "max_steps")
    bar.close()
    steps = max(step, start)
    checkpoint(steps, reason)
    if out is not None and acc.is_main_process:
        model.save_pretrained(Path(out) / "final", safe_serialization=True)
        policy.tokenizer.save_pretrained(Path(out) / "final")
    acc.wait_for_everyone()
    return HFTrainResult(pol, anchor, history, reason, steps, train_s, asdict(cfg))
