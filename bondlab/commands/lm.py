"""``bondlab lm pretrain | sample | exact``: the tiny GPTs from the command line."""
from __future__ import annotations

import inspect
import json
from dataclasses import replace

import numpy as np
import torch

from ..divergences import kl_log
from ..outputs import write_json
from ..smoke import pick
from ..theory import bon_kl_bound
from . import _args as A

TEXT_BYTES = 1024                 # a candidate's text and its reward, as Python objects (generous)
EXACT_BYTES_PER_SEQUENCE = 24     # lm exact: int64 index, float reward gather, argmax per sampled sequence


def register(groups) -> None:
    lm = groups["lm"]
    p = lm.add_parser("pretrain", help="pretrain a tiny GPT on its generated corpus and write the checkpoint")
    p.add_argument("--model", choices=["reviews", "micro"], default="reviews", help="which model (default reviews)")
    p.add_argument("--out", type=A.PathArg("out_dir"), default=".",
                   help="folder for <model>.safetensors and <model>.json (default .)")
    p.add_argument("--steps", type=A.count(), default=None, help="optimizer steps (default: the shipped recipe)")
    p.add_argument("--seed", type=A.SEED, default=0, help="seed of corpus, init and batches (default 0)")
    A.add_force(p)
    p.set_defaults(func=run_pretrain, check=check_pretrain)
    _threads(p)

    s = lm.add_parser("sample", help="sequence-level Best-of-N with the review GPT: N candidates, their rewards, the one kept")
    s.add_argument("--n", type=A.count(), required=True, help="N, candidates per prompt")
    s.add_argument("--prompt", default=None, help='review opening, e.g. "the food was" (default: a random one)')
    s.add_argument("--reward", choices=["gold", "proxy"], default="gold", help="gold (VADER) or the proxy model")
    s.add_argument("--seed", type=A.SEED, default=0, help="seed of the torch.Generator (default 0)")
    s.set_defaults(func=run_sample, check=check_sample)
    _threads(s)

    e = lm.add_parser("exact", help="exact sequence-level Best-of-N on the micro GPT, checked against sampling")
    e.add_argument("--n", type=A.count(), required=True, help="N of Best-of-N")
    e.add_argument("--draws", type=A.count(), default=None,
                   help="Best-of-N draws for the Monte Carlo check (default 20000; 2000 in smoke mode)")
    e.add_argument("--json", type=A.PathArg("out_file"), required=True, help="file to write the results to")
    e.add_argument("--seed", type=A.SEED, default=0, help="seed of the torch.Generator (default 0)")
    A.add_force(e)
    e.set_defaults(func=run_exact, check=check_exact)
    _threads(e)


def _threads(parser) -> None:
    parser.add_argument("--threads", type=A.THREADS, default=1,
                        help="torch threads (default 1: on 2 shared cores more threads are often slower)")


def _set_threads(args) -> None:
    torch.set_num_threads(args.threads)


def _shipped_config(name: str) -> dict:
    """The shipped model's GPTConfig as recorded in its sidecar (read without loading the weights)."""
    from ..lm import ASSETS
    return json.loads((ASSETS / f"{name}.json").read_text())["config"]


def check_pretrain(args) -> None:
    A.preflight({"--out": [args.out / f"{args.model}.safetensors", args.out / f"{args.model}.json"]}, args.force)


def check_sample(args) -> None:
    """The prompt must be review words that leave room for a completion; N candidates are generated as one
    batch: refuse an N whose activations cannot fit."""
    from ..lm.corpus import review_tokenizer
    from ..lm.policy import LMPolicy
    c = _shipped_config("reviews")
    if args.prompt is not None:
        try:
            ids = review_tokenizer().encode(args.prompt)
        except ValueError as e:
            raise ValueError(f"--prompt: {e}") from None
        new = inspect.signature(LMPolicy).parameters["max_new_tokens"].default
        room = c["block_size"] - new               # <bos> + prompt + completion - 1 <= block_size
        if len(ids) > room:
            raise ValueError(f"--prompt has {len(ids)} words; the review GPT leaves room for {room} before its completion")
    per = 4 * c["block_size"] * (2 * c["n_layer"] * c["n_embd"] + 4 * c["n_embd"] + c["vocab_size"]
                                 + c["n_head"] * c["block_size"]) + TEXT_BYTES       # float32 activations + text
    A.refuse_unless_fits(per * args.n, "--n", f"sampling {args.n:,} candidates in one batch")


def check_exact(args) -> None:
    draws = _draws(args)
    A.refuse_unless_fits(EXACT_BYTES_PER_SEQUENCE * args.n * draws, "--n, --draws",
                         f"{draws:,} Best-of-{args.n} draws ({args.n * draws:,} sampled sequences)")
    A.preflight({"--json": [args.json]}, args.force)


def _draws(args) -> int:
    return args.draws if args.draws is not None else pick(20_000, 2_000)


def run_pretrain(args) -> int:
    _set_threads(args)
    from ..lm.pretrain import pretrain_and_save, train_config
    train = replace(train_config(args.model), seed=args.seed)
    if args.steps is not None:
        train = replace(train, steps=args.steps)
    path, hist = pretrain_and_save(args.model, args.out, train)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB) in {hist['seconds']:.0f} s, "
          f"final loss {np.mean(hist['loss'][-100:]):.3f}")
    return 0


def run_sample(args) -> int:
    _set_threads(args)
    from ..lm import LMPolicy, best_of_n, load_pretrained, review_prompts
    from ..lm.rewards import reward_fn
    n = args.n
    model, tok = load_pretrained("reviews")
    prompt = args.prompt
    if prompt is None:
        prompt = review_prompts(1, np.random.default_rng(args.seed))[0]
    res = best_of_n(LMPolicy(model, tok), [prompt], n, reward_fn(args.reward), torch.Generator().manual_seed(args.seed))
    texts, r, best = res["texts"][0], res["rewards"][0], int(res["best"][0])   # first argmax, as in Best-of-N
    print(f"prompt: {prompt!r}   reward: {args.reward}   N = {n}")
    for i, (t, ri) in enumerate(zip(texts, r)):
        print(f"{'*' if i == best else ' '} {i:3d}  {ri:+.3f}  {t}")
    print(f"kept: #{best} reward {r[best]:+.3f}: {texts[best]}")
    return 0


def exact_report(n: int, draws: int, seed: int = 0) -> dict:
    """The numbers ``bondlab lm exact`` writes (see its help)."""
    from ..lm import exact_bon_log_probs, load_pretrained, micro_space, reward_law, sample_bon_indices
    model, _ = load_pretrained("micro")
    space = micro_space()
    with torch.no_grad():
        log_ref = space.log_probs(model)                                       # (S,)
        log_bon = exact_bon_log_probs(log_ref, space.rewards, n)               # (S,)
    levels, p_bon = reward_law(log_bon, space.rewards)
    idx = sample_bon_indices(model, n, draws, torch.Generator().manual_seed(seed), space)
    seen = torch.bucketize(space.rewards[idx], torch.tensor(levels))
    q = np.bincount(seen.numpy(), minlength=levels.size) / draws
    return {"num_sequences": space.num_sequences, "ref_mass": float(torch.exp(log_ref).sum()),
            "bon_kl_exact": kl_log(log_bon.numpy(), (log_ref - torch.logsumexp(log_ref, 0)).numpy()),
            "bon_kl_bound": float(bon_kl_bound(n)), "mc_draws": draws,
            "reward_tv": 0.5 * float(np.abs(p_bon - q).sum()), "n": n,
            "reward_levels": levels.tolist(), "reward_law_exact": p_bon.tolist(), "reward_law_mc": q.tolist()}


def run_exact(args) -> int:
    _set_threads(args)
    n, draws = args.n, _draws(args)
    out = exact_report(n, draws, args.seed)
    write_json(args.json, out)
    print(f"{out['num_sequences']} sequences, sum pi_ref = {out['ref_mass']:.8f}; KL(pi_BoN || pi_ref) = "
          f"{out['bon_kl_exact']:.4f} nats (bound log N - (N-1)/N = {out['bon_kl_bound']:.4f}); "
          f"TV(reward law, {draws} Best-of-{n} draws) = {out['reward_tv']:.4f}  -> {args.json}")
    return 0
