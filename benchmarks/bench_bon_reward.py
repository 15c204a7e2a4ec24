"""Best-of-N with the shipped review GPT: mean gold (VADER) and proxy reward for N = 1, 2, 4, 8, 16 on a
batch of prompts, from one set of 16 draws per prompt (Best-of-N takes the first N), in this one run.

    python benchmarks/bench_bon_reward.py [--quick] [--prompts 256]

Last line: ``bon_vader=<N:mean,...> bon_proxy_gold=<N:gold mean of the proxy's pick,...>``. Best-of-N on the
proxy shows over-optimization: the gold reward of the proxy's pick rises less, or falls.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from bondlab.lm import LMPolicy, VaderReward, best_of_n, load_pretrained, review_prompts, train_proxy


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="64 prompts")
    ap.add_argument("--prompts", type=int, default=256, help="number of prompts (default 256)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    torch.set_num_threads(2)
    B = 64 if args.quick else args.prompts
    ns = (1, 2, 4, 8, 16)
    model, tok = load_pretrained("reviews")
    policy = LMPolicy(model, tok)
    prompts = review_prompts(B, np.random.default_rng(args.seed))
    gold, proxy = VaderReward(), train_proxy()
    t0 = time.perf_counter()
    res = best_of_n(policy, prompts, max(ns), gold, torch.Generator().manual_seed(args.seed))
    t_sample = time.perf_counter() - t0
    g = res["rewards"]                                              # (B, 16) gold
    flat = [t for row in res["texts"] for t in row]
    p = proxy(flat).reshape(B, max(ns))                             # (B, 16) proxy
    lengths = [len(t.split()) for t in flat]
    print(f"{B} prompts x {max(ns)} draws in {t_sample:.1f} s; mean length {np.mean(lengths):.1f} words")
    print(f"{'N':>3} {'gold BoN':>9} {'proxy BoN: proxy':>17} {'its gold':>9}")
    vader, proxy_gold = {}, {}
    for n in ns:
        vader[n] = g[:, :n].max(1).mean()
        pick = p[:, :n].argmax(1)                                  # first argmax of the proxy
        proxy_gold[n] = g[np.arange(B), pick].mean()
        print(f"{n:>3} {vader[n]:9.3f} {p[np.arange(B), pick].mean():17.3f} {proxy_gold[n]:9.3f}")
    print("example kept (N = 16):", res["kept"][0])
    print("bon_vader=" + ",".join(f"{n}:{v:.3f}" for n, v in vader.items())
          + " bon_proxy_gold=" + ",".join(f"{n}:{v:.3f}" for n, v in proxy_gold.items()))


if __name__ == "__main__":
    main()
