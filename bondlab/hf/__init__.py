"""bondlab.hf: J-BOND for Hugging Face causal LMs, data-parallel through accelerate (the ``hf`` extra).

    pip install 'bondlab[hf]'
    from bondlab.hf import HFPolicy, HFJBondConfig, train_hf_jbond, load_reward
    policy = HFPolicy.from_pretrained("path/to/gpt2", max_new_tokens=32)
    result = train_hf_jbond(policy, ["The movie was"], load_reward("vader"), HFJBondConfig(target_n=8), out="runs/hf")

transformers and accelerate are imported only when a model is loaded or training starts, so importing
this package works without the extra; nothing else in bondlab imports it. See docs/hf.md.
"""
from .adapter import HFPolicy
from ..lm.metrics import text_reward
from .rewards import RewardModel, load_reward
from .train import HFJBondConfig, HFTrainResult, ShardedUniforms, load_state, train_hf_jbond

__all__ = ["HFPolicy", "RewardModel", "load_reward", "text_reward", "HFJBondConfig", "HFTrainResult",
           "ShardedUniforms", "load_state", "train_hf_jbond"]
