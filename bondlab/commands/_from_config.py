"""Command-line flags generated from a config dataclass (:mod:`bondlab.configs`), TRL style.

Each field becomes ``--field-name``: its help is the field's ``help``, its parser the field's
:class:`bondlab.configs.Range` (through :class:`bondlab.commands._args.Number`, the same range ``__post_init__``
applies) or its ``choices``; a bool field defaulting to False is a switch. Flags default to None, so a
config built by :func:`config_from_args` keeps the dataclass's own defaults unless the command names its
own (``defaults=``), which the help then shows.
"""
from __future__ import annotations

from dataclasses import MISSING, fields

from . import _args as A

__all__ = ["add_config_flags", "config_from_args", "flag", "print_history"]


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _default(f, defaults: dict):
    if f.name in defaults:
        return defaults[f.name]
    if f.default is not MISSING:
        return f.default
    return f.default_factory() if f.default_factory is not MISSING else None


def _inside(inner, outer) -> bool:
    """Whether every number of Range ``inner`` lies in Range ``outer``."""
    lo_ok = outer.lo is None or (inner.lo is not None and (inner.lo > outer.lo or (inner.lo == outer.lo and
                                                                                   (inner.lo_open or not outer.lo_open))))
    hi_ok = outer.hi is None or (inner.hi is not None and (inner.hi < outer.hi or (inner.hi == outer.hi and
                                                                                   (inner.hi_open or not outer.hi_open))))
    return lo_ok and hi_ok and (inner.whole or not outer.whole)


def add_config_flags(parser, cls, *, only=None, skip=(), defaults: dict | None = None, helps: dict | None = None,
                     narrow: dict | None = None):
    """Add one flag per field of ``cls`` (those in ``only`` if given, minus ``skip``); returns the field names.

    ``defaults``: the command's own defaults for some fields (shown in the help, applied by
    :func:`config_from_args`); ``helps``: help texts that replace a field's own for this command;
    ``narrow``: a Range inside the field's own for a flag that means less than the field (``toy iterative
    --eta`` asks for an EMA, so 0, the field's "hard resets", is not a value of the flag)."""
    defaults, helps, narrow, names = defaults or {}, helps or {}, narrow or {}, []
    for f in fields(cls):
        m = f.metadata
        if not m or f.name in skip or (only is not None and f.name not in only):
            continue
        default = _default(f, defaults)
        text = helps.get(f.name, m["help"])
        if m.get("kind") is bool:
            if default is not False:
                raise ValueError(f"{cls.__name__}.{f.name}: a switch must default to False")
            parser.add_argument(flag(f.name), action="store_true", default=None, help=text)
        elif m.get("choices") is not None:
            parser.add_argument(flag(f.name), choices=m["choices"], default=None, help=f"{text} (default {default})")
        else:
            r = narrow.get(f.name, m["range"])
            if not _inside(r, m["range"]):
                raise ValueError(f"{cls.__name__}.{f.name}: the flag's range {r.describe()} is not inside the "
                                 f"field's {m['range'].describe()}")
            parser.add_argument(flag(f.name), type=A.Number.of(r), default=None, help=f"{text} (default {default})")
        names.append(f.name)
    parser.set_defaults(**{"_config_flags": tuple(names)})
    return names


def config_from_args(cls, args, names=None, *, defaults: dict | None = None, **overrides):
    """``cls(**...)`` from the flags given (None: not given) over the command's ``defaults``, then
    ``overrides``; the dataclass's ``__post_init__`` checks what flags cannot check alone."""
    names = getattr(args, "_config_flags", ()) if names is None else names
    kw = dict(defaults or {})
    kw.update({n: getattr(args, n) for n in names if getattr(args, n, None) is not None})
    kw.update(overrides)
    try:
        return cls(**kw)
    except ValueError as e:   # name the flag, not the field: "--batch must be >= 2 ..."
        msg = str(e)
        for n in sorted(names, key=len, reverse=True):
            if msg.startswith(n + " "):
                raise ValueError(flag(n) + msg[len(n):]) from None
        raise


def print_history(history: list, columns=("reward", "quantile", "kl")) -> None:
    """The evaluation records of a training run as a table, one row per evaluation."""
    print(f"{'step':>6} " + " ".join(f"{c:>9}" for c in columns))
    for h in history:
        print(f"{h['step']:6d} " + " ".join(f"{h[c]:9.3f}" for c in columns))
