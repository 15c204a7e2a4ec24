"""Every command, every bad value (issue 11, item 6).

Walks every ``bondlab`` subcommand from the argparse tree and feeds each numeric flag a negative number,
zero, nan, inf, a word, a fraction and a huge count; each path flag a folder that does not exist, an
existing file where a folder is expected, a folder where a file is expected (and a binary file where text
is expected); each choice flag a value not among its choices. A value is bad or good by the range the flag
declares on its argparse ``type=`` (bondlab.commands._args.Number / PathArg), recomputed here from the
declared bounds. Bad values: exit code != 0, one line on stderr naming the flag, no traceback, and no
file written or clobbered. Good values go through the checks a command makes before any work (memory,
outputs, a model's limits), which may still refuse them, naming the flag; they are never run.
"""
import argparse
import math
import os
from pathlib import Path

import pytest

from bondlab.cli import build_parser, main
from bondlab.commands import _args as A
from bondlab.commands.hf import RewardSource

NUMBERS = ["-1", "0", "nan", "inf", "-inf", "abc", "2.5", "1e12"]
HAS_HF = all(__import__("importlib").util.find_spec(m) for m in ("transformers", "accelerate"))


def leaves(parser, words=()):
    """(words, parser) for every runnable subcommand of the tree."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs and parser.get_default("func") is not None:
        yield words, parser
    for a in subs:
        for name, sub in a.choices.items():
            yield from leaves(sub, (*words, name))


LEAVES = {" ".join(w): w for w, _ in leaves(build_parser())}


def options(parser):
    return [a for a in parser._actions if a.option_strings and not isinstance(a, argparse._HelpAction)]


def positionals(parser):
    """Positional arguments (a path such as ``bondlab notebooks DIR``); they declare a type like flags."""
    return [a for a in parser._actions if not a.option_strings and not isinstance(a, argparse._SubParsersAction)]


def declared_ok(t: A.Number, text: str) -> bool:
    """Whether ``text`` lies in the range ``t`` declares, recomputed from its bounds."""
    try:
        v = float(text)
    except ValueError:
        return False
    if not math.isfinite(v) or (t.whole and v != int(v)):
        return False
    if t.lo is not None and (v < t.lo or (t.lo_open and v <= t.lo)):
        return False
    return t.hi is None or (v < t.hi or (not t.hi_open and v <= t.hi))


def snapshot(root: Path) -> dict:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) if p.is_file() else "dir"
            for p in root.rglob("*")}


@pytest.fixture
def place(tmp_path, monkeypatch):
    """A working folder holding a text file, a binary file, a folder and a fake Hugging Face model folder."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a_file.txt").write_text("the food was\n")
    (tmp_path / "binary.bin").write_bytes(bytes(range(256)) * 4)
    (tmp_path / "a_folder").mkdir()
    model = tmp_path / "model"
    if HAS_HF:                  # a tiny random GPT-2 with the review words (tests/test_hf.py): 32 positions
        from test_hf import tiny_gpt2, tiny_tokenizer
        tiny_gpt2().save_pretrained(model)
        tiny_tokenizer().save_pretrained(model)
    else:
        model.mkdir()
        (model / "config.json").write_text('{"n_positions": 32}')
    return tmp_path


def base_argv(words, parser, place) -> list[str]:
    """The subcommand with a valid value for each required flag (and a short --max-new-tokens for hf)."""
    argv = list(words)
    for a in options(parser):
        if not a.required:
            continue
        flag = a.option_strings[0]
        if isinstance(a.type, RewardSource):
            argv += [flag, "vader"]
        elif isinstance(a.type, A.PathArg):
            argv += [flag, str(place / {"in_dir": "model", "out_file": "base.json"}[a.type.kind])]
        elif isinstance(a.type, A.Number):
            argv += [flag, str(a.type.lo + (1 if a.type.lo_open else 0))]
        else:
            raise AssertionError(f"{' '.join(words)} {flag}: required flag without a declared type")
    for i, a in enumerate(positionals(parser)):    # right after the words, where the walk replaces them
        assert isinstance(a.type, A.PathArg), f"{' '.join(words)} {a.metavar}: positional without a declared type"
        argv.insert(len(words) + i, str(place / {"out_dir": "new_folder", "in_dir": "model", "out_file": "base.json",
                                                 "in_file": "a_file.txt"}[a.type.kind]))
    if words[0] == "hf":
        argv += ["--max-new-tokens", "8"]
    return argv


def path_cases(a, place):
    """(value, declared good?) for a path flag of each kind."""
    nowhere, file_, folder = place / "no_such_folder", place / "a_file.txt", place / "a_folder"
    if a.type.kind == "out_dir":
        return [(nowhere / "sub", True), (file_, False), (file_ / "sub", False)]
    if a.type.kind == "out_file":
        return [(folder, False), (nowhere / "x.json", False), (file_ / "x.json", False), (folder / "new.json", True),
                *([(Path(os.devnull), False)] if Path(os.devnull).exists() else [])]      # never replace a device
    if a.type.kind == "in_dir":
        return [(nowhere, False), (file_, False)]
    return [(nowhere / "p.txt", False), (folder, False), (place / "binary.bin", False), (file_, True)]


class Walk:
    def __init__(self, place, capsys):
        self.place, self.capsys, self.failures, self.cases, self.accepted = place, capsys, [], 0, 0

    def refused(self, argv, flag, at_parse: bool):
        before = snapshot(self.place)
        try:
            rc = main(argv)
        except BaseException as e:  # noqa: BLE001 - any escape is a failure of the command
            self.failures.append(f"{argv}: raised {type(e).__name__}: {e}")
            return
        err = self.capsys.readouterr().err
        lines = err.strip().splitlines()
        want = f"argument {flag}" if at_parse else flag
        if rc == 0 or "Traceback" in err or len(lines) != 1 or want not in err:
            self.failures.append(f"{argv}: rc={rc}, stderr={err!r} (wanted one line naming {want})")
        if snapshot(self.place) != before:
            self.failures.append(f"{argv}: files changed")

    def case(self, words, argv, flag, good: bool):
        """One (subcommand, flag, value): refused at parse time if bad; if good, parsed and checked only."""
        self.cases += 1
        if not good:
            return self.refused(argv, flag, at_parse=True)
        try:
            args = build_parser().parse_args(argv)
        except SystemExit:
            self.failures.append(f"{argv}: a value in the declared range was refused: {self.capsys.readouterr().err!r}")
            return
        if words[0] == "hf" and not HAS_HF:
            return
        before = snapshot(self.place)
        try:
            args.check(args) if getattr(args, "check", None) else None
            self.accepted += 1
        except ValueError as e:
            if flag not in str(e):
                self.failures.append(f"{argv}: refused without naming {flag}: {e}")
            return self.refused(argv, flag, at_parse=False)
        if snapshot(self.place) != before:
            self.failures.append(f"{argv}: the checks wrote files")


@pytest.mark.parametrize("name", sorted(LEAVES))
def test_every_flag_every_bad_value(name, place, capsys):
    words = LEAVES[name]
    parser = dict(leaves(build_parser()))[words]
    base = base_argv(words, parser, place)
    walk = Walk(place, capsys)
    for a in options(parser):
        flag = a.option_strings[0]
        rest = [x for i, x in enumerate(base) if x != flag and (i == 0 or base[i - 1] != flag)]
        if isinstance(a.type, A.Number):
            for v in NUMBERS:
                walk.case(words, rest + [flag, v], flag, declared_ok(a.type, v))
        elif isinstance(a.type, A.PathArg):
            for v, good in path_cases(a, place):
                walk.case(words, rest + [flag, str(v)], flag, good)
        elif a.choices is not None:
            walk.case(words, rest + [flag, "no-such-choice"], flag, False)
        else:   # a switch or free text: any numeric-looking default would need a declared range
            assert a.type not in (int, float) and (a.nargs == 0 or not isinstance(a.default, (int, float))), \
                f"{name} {flag} has no declared range"
    for i, a in enumerate(positionals(parser)):    # a positional: its value replaced in place
        at = len(words) + i
        for v, good in path_cases(a, place):
            walk.case(words, base[:at] + [str(v)] + base[at + 1:], a.metavar or a.dest, good)
    print(f"{name}: {walk.cases} cases, {walk.accepted} in range and passing the checks")
    assert walk.cases >= 3 and not walk.failures, "\n".join(walk.failures)


def writes_files(parser) -> bool:
    return any(isinstance(a.type, A.PathArg) and a.type.kind.startswith("out") for a in options(parser))


WRITERS = sorted(n for n, p in ((" ".join(w), p) for w, p in leaves(build_parser())) if writes_files(p))


def test_every_writer_but_hf_takes_force():
    """hf jbond's --out is a run folder it resumes from (--no-resume starts afresh); every other writer
    replaces an existing file only with --force."""
    parsers = {" ".join(w): p for w, p in leaves(build_parser())}
    for name in WRITERS:
        has_force = any("--force" in a.option_strings for a in options(parsers[name]))
        assert has_force == (name != "hf jbond"), name


@pytest.mark.parametrize("name", [n for n in WRITERS if n != "hf jbond"])
def test_outputs_are_never_clobbered_without_force(name, place, capsys, monkeypatch):
    """The files a command would write exist already: it refuses, naming the flag and --force, and leaves
    them as they were; with --force its checks pass. A flag the subcommand does not read is refused."""
    words = LEAVES[name]
    parser = dict(leaves(build_parser()))[words]
    argv = base_argv(words, parser, place)
    if any(a.option_strings[0] == "--out" for a in options(parser)):
        argv += ["--out", str(place / "out")]
    seen = {}
    real = A.preflight
    monkeypatch.setattr(A, "preflight", lambda targets, force: (seen.update(targets), real(targets, force)))
    args = build_parser().parse_args(argv)
    args.check(args) if getattr(args, "check", None) else None
    monkeypatch.setattr(A, "preflight", real)
    assert seen, f"{name} writes files but checks none of them before its work"
    for flag, paths in seen.items():
        for p in paths:
            Path(p).parent.mkdir(parents=True, exist_ok=True)
            Path(p).write_text("precious")
        before = snapshot(place)
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert flag in err and "--force" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
        assert snapshot(place) == before and all(Path(p).read_text() == "precious" for p in paths)
    args = build_parser().parse_args(argv + ["--force"])
    args.check(args)
    assert main(argv + ["--gamma-unread", "1"]) == 2
    assert "does not take --gamma-unread" in capsys.readouterr().err


def test_huge_counts_are_refused_before_any_work(place, capsys):
    """The issue's cases: what cannot fit in memory is refused with a line saying so."""
    for argv, flag in [(["toy", "bon", "--n", "1e12"], "--n"), (["toy", "bon", "--samples", "1e15"], "--samples"),
                       (["lm", "sample", "--n", "1000000000"], "--n"), (["toy", "overopt", "--capacity", "1e9"], "--capacity"),
                       (["lm", "exact", "--n", "1000", "--draws", "1e12", "--json", "x.json"], "--draws")]:
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert flag in err and "GB of memory" in err, err


@pytest.mark.skipif(not HAS_HF, reason="needs the hf extra")
def test_hf_completion_must_fit_after_the_longest_prompt(place, capsys):
    """The tiny GPT-2 has 32 positions and '<bos> the food was' takes 4: 28 new tokens fit, 29 do not."""
    argv = ["hf", "jbond", "--model", str(place / "model"), "--reward", "vader", "--prompts", str(place / "a_file.txt")]
    assert main(argv + ["--max-new-tokens", "29"]) == 2
    assert "--max-new-tokens 29 after the longest prompt (4 tokens)" in capsys.readouterr().err
    args = build_parser().parse_args(argv + ["--max-new-tokens", "28"])
    args.check(args)
