"""The policy interface every trainer speaks, at every scale (a ``typing.Protocol``, checked structurally).

    policy.sample(prompts, generator)      one sample per prompt, drawn with the torch.Generator
    policy.log_prob(prompts, samples)      (B,) log pi(y | x), differentiable in the parameters
    policy.anchor()                        a frozen deep copy: pi_anchor (iterative BOND, J-BOND) or pi_ref
    policy.ema_update_(source, eta)        theta <- (1 - eta) theta + eta theta_source, in place
                                           (:func:`bondlab.anchor.ema_`; eta = 1 copies the source)
    policy.parameters()                    the trainable tensors (what Adam steps and the anchor follows)

Who satisfies it:

- a toy table (:class:`bondlab.policies.TabularPolicy`, :class:`bondlab.policies.GaussianPolicy`): a toy
  space has one empty prompt, so ``prompts`` is the number of draws (or any sequence, one draw per item), and
  samples are outcome indices (B,);
- the tiny GPT (:class:`bondlab.lm.LMPolicy`) and a Hugging Face causal LM (:class:`bondlab.hf.HFPolicy`):
  ``prompts`` is a list of texts, samples are (B, T) completion ids padded after the end token.
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

__all__ = ["Policy", "check_policy"]


@runtime_checkable
class Policy(Protocol):
    def sample(self, prompts, generator): ...

    def log_prob(self, prompts, samples): ...

    def anchor(self) -> "Policy": ...

    def ema_update_(self, source: "Policy", eta: float) -> "Policy": ...

    def parameters(self): ...


def check_policy(policy, name: str = "policy"):
    """``policy`` if it satisfies :class:`Policy`, else a ValueError naming what it lacks."""
    missing = [m for m in ("sample", "log_prob", "anchor", "ema_update_", "parameters") if not hasattr(policy, m)]
    if missing:
        raise ValueError(f"{name} must satisfy bondlab.policy.Policy; {type(policy).__name__} lacks {missing}")
    return policy
