"""Exact sequence-level divergences on the micro GPT: seconds per exact KL evaluation and per exact-gradient
step (the prefix trick of ``bondlab.lm.exact``), against a straightforward enumeration that teacher-forces
every one of the 19,531 sequences, and the flat prefix pass. All timings are taken in this one run.

    python benchmarks/bench_exact.py [--quick]

Last line: ``exact_kl_s=<s> exact_grad_step_s=<s> naive_kl_s=<s> speedup=<naive / prefix>``.
Targets (issue 5): <= 0.15 s per exact KL evaluation, <= 0.5 s per exact-gradient step.
"""
from __future__ import annotations

import argparse
import copy
import time

import torch

from bondlab.lm import exact_bon_log_probs, exact_kl, load_pretrained, micro_space


def best_time(fn, reps: int) -> float:
    fn()
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions")
    ap.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    ap.add_argument("--n", type=int, default=4, help="N of the Best-of-N target (default 4)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    reps = 2 if args.quick else 7
    ref, tok = load_pretrained("micro")
    space = micro_space()
    with torch.no_grad():
        log_target = exact_bon_log_probs(space.log_probs(ref), space.rewards, args.n)   # (S,) pi_BoN
    policy = copy.deepcopy(ref).train()
    opt = torch.optim.Adam(policy.parameters(), lr=1e-3)
    print(f"micro model: {policy.num_params():,} parameters; {space.num_sequences:,} sequences from "
          f"{space.prefixes.shape[0]:,} prefixes; {torch.get_num_threads()} threads")

    def kl_eval(method="tree"):
        with torch.no_grad():
            return exact_kl(space.log_probs(policy, method), log_target)

    def grad_step(method="tree"):
        opt.zero_grad()
        loss = exact_kl(space.log_probs(policy, method), log_target)   # backward KL(pi || pi_BoN)
        loss.backward()
        opt.step()

    bos = torch.full((space.num_sequences, 1), tok.bos_id, dtype=torch.long)

    def naive_kl():
        with torch.no_grad():
            lp = policy.sequence_log_probs(bos, space.completions).double()          # (S,) teacher forcing
            return exact_kl(lp, log_target)

    t_kl = best_time(kl_eval, reps)
    t_step = best_time(grad_step, reps)
    t_kl_flat = best_time(lambda: kl_eval("flat"), reps)
    t_step_flat = best_time(lambda: grad_step("flat"), reps)
    t_naive = best_time(naive_kl, max(1, reps // 2))
    print(f"exact KL evaluation (prefix tree):    {t_kl * 1e3:8.1f} ms   (target <= 150 ms)")
    print(f"exact-gradient step (prefix tree):    {t_step * 1e3:8.1f} ms   (target <= 500 ms)")
    print(f"exact KL evaluation (flat prefixes):  {t_kl_flat * 1e3:8.1f} ms")
    print(f"exact-gradient step (flat prefixes):  {t_step_flat * 1e3:8.1f} ms")
    print(f"exact KL evaluation (naive, per seq): {t_naive * 1e3:8.1f} ms")
    print(f"exact_kl_s={t_kl:.4f} exact_grad_step_s={t_step:.4f} naive_kl_s={t_naive:.4f} speedup={t_naive / t_kl:.1f}")


if __name__ == "__main__":
    main()
