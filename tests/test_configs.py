"""One config per algorithm: every field documented and ranged, checked in __post_init__ only, and the
command line generated from it (the flag's parser and the config accept exactly the same values)."""
import argparse
import inspect
import math
import re
from dataclasses import fields

import pytest

from bondlab import configs as C
from bondlab.commands import _args as A
from bondlab.commands._from_config import _inside, add_config_flags, config_from_args, flag

CONFIGS = [C.BondConfig, C.IterativeConfig, C.ToyJBondConfig, C.JBondConfig, C.HFJBondConfig,
           C.ToyReinforceConfig, C.ReinforceConfig]


@pytest.mark.parametrize("cls", CONFIGS)
def test_every_field_has_help_and_one_kind_of_check(cls):
    for f in fields(cls):
        m = f.metadata
        assert m["help"].strip(), f"{cls.__name__}.{f.name} has no help"
        kinds = [m["range"] is not None, m["choices"] is not None, m["kind"] is bool]
        assert sum(kinds) == 1, f"{cls.__name__}.{f.name} must declare one of range, choices, bool"
    cls()   # the defaults are valid


def _probe_values(r: C.Range):
    """Values around the ends of a range, its inside and outside, and non-numbers."""
    vals = [0, 1, 2, -1, 0.5, 1e9, math.nan, math.inf, -math.inf]
    for end in (r.lo, r.hi):
        if end is not None:
            vals += [end, end - 1, end + 1, end - 1e-9, end + 1e-9, end + 0.5]
    return vals


@pytest.mark.parametrize("cls", CONFIGS)
def test_config_and_flag_accept_the_same_values(cls):
    """Oracle: the flag's parser (text) and __post_init__ (a Python value) decide alike for every probe."""
    for f in fields(cls):
        r = f.metadata["range"]
        if r is None:
            continue
        parse = A.Number.of(r)
        for v in _probe_values(r):
            try:
                parse(repr(v) if isinstance(v, float) else str(v))
                flag_ok = True
            except argparse.ArgumentTypeError:
                flag_ok = False
            try:
                cfg = cls(**{f.name: v})
                cfg_ok = True
            except ValueError as e:
                cfg_ok = False
                if not str(e).startswith(f"{f.name} must be {r.describe()}"):
                    continue    # a check across fields fired (batch >= 2 with sampled gradients), not the range
            assert flag_ok == cfg_ok, (cls.__name__, f.name, v, flag_ok, cfg_ok)
            if cfg_ok:
                assert getattr(cfg, f.name) == (int(v) if r.whole else float(v))


@pytest.mark.parametrize("cls", CONFIGS)
def test_bad_values_name_the_field(cls):
    for f in fields(cls):
        m = f.metadata
        bad = "not-a-choice" if m["choices"] else ("yes" if m["kind"] is bool else math.nan)
        with pytest.raises(ValueError, match=rf"^{f.name} "):
            cls(**{f.name: bad})
    with pytest.raises(ValueError, match="^lr "):
        cls(lr=True)                                 # a bool is not a number


def test_configs_extend_each_other_where_the_meaning_is_the_same():
    assert issubclass(C.HFJBondConfig, C.JBondConfig) and issubclass(C.JBondConfig, C.JBondParams)
    assert issubclass(C.ToyJBondConfig, C.JBondParams) and issubclass(C.ReinforceConfig, C.ReinforceParams)
    assert issubclass(C.ToyReinforceConfig, C.ReinforceParams)
    shared = {f.name for f in fields(C.JBondParams)}
    for cls in (C.ToyJBondConfig, C.JBondConfig, C.HFJBondConfig):
        for name in shared:
            mine = next(f for f in fields(cls) if f.name == name).metadata
            base = next(f for f in fields(C.JBondParams) if f.name == name).metadata
            assert (mine["range"] and mine["range"].describe()) == (base["range"] and base["range"].describe())
            assert mine["choices"] == base["choices"]


def test_objective_beta_is_defined_once():
    assert C.objective_beta("forward", 0.3) == 0.0 and C.objective_beta("backward", 0.3) == 1.0
    assert C.objective_beta("jeffreys", 0.3) == 0.3
    for cls in (C.ToyJBondConfig, C.JBondConfig):
        assert cls(objective="forward", beta=0.3).effective_beta == 0.0
    with pytest.raises(ValueError, match="objective"):
        C.objective_beta("sideways", 0.5)


TRAINING = ["bondlab.train", "bondlab.jbond", "bondlab.lm.jbond", "bondlab.lm.reinforce", "bondlab.hf.train"]


@pytest.mark.parametrize("module", TRAINING)
def test_trainers_do_not_validate_config_fields_again(module):
    """Validation lives in __post_init__ only: no trainer checks a cfg.<field> itself."""
    import importlib
    src = inspect.getsource(importlib.import_module(module))
    assert not re.search(r"V\.\w+\(\s*cfg\.", src)
    assert not re.search(r"if not .*cfg\.\w+.*:\s*\n\s*raise ValueError", src)


@pytest.mark.parametrize("cls", CONFIGS)
def test_generated_flags_carry_the_fields_help_and_range(cls):
    p = argparse.ArgumentParser()
    names = add_config_flags(p, cls)
    assert names == [f.name for f in fields(cls)]
    acts = {a.dest: a for a in p._actions}
    for f in fields(cls):
        a, m = acts[f.name], f.metadata
        assert a.option_strings == [flag(f.name)] and a.help.startswith(m["help"])
        if m["range"] is not None:
            assert a.type.describe() == m["range"].describe()
        elif m["choices"] is not None:
            assert tuple(a.choices) == m["choices"]
    args = p.parse_args([])
    assert config_from_args(cls, args) == cls()            # no flag given: the dataclass's defaults


def test_a_config_error_names_the_flag():
    p = argparse.ArgumentParser()
    add_config_flags(p, C.ToyJBondConfig)
    with pytest.raises(ValueError, match="^--batch must be >= 2"):
        config_from_args(C.ToyJBondConfig, p.parse_args(["--batch", "1"]))


def test_narrowed_flags_must_lie_inside_the_field():
    assert _inside(C.real(0, 1, lo_open=True), C.UNIT) and not _inside(C.real(0, 2), C.UNIT)
    assert _inside(C.whole(2), C.whole(1)) and not _inside(C.real(2), C.whole(1))
    with pytest.raises(ValueError, match="not inside"):
        add_config_flags(argparse.ArgumentParser(), C.IterativeConfig, narrow={"eta": C.real(0, 2)})
