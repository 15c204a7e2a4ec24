"""The docs site: every `bondlab.xxx.yyy` name in docs/ resolves by import, the nav lists every notebook
and only files that exist, and the numbers printed in the theory tables match the library."""
import importlib
import pathlib
import re

import numpy as np
import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = sorted(p for p in DOCS.rglob("*.md") if "notebooks" not in p.relative_to(DOCS).parts[:1])
REF = re.compile(r"\bbondlab(?:\.[A-Za-z_][A-Za-z0-9_]*)+")


class _Loader(yaml.SafeLoader):
    pass


_Loader.add_constructor("!ENV", lambda loader, node: None)   # mkdocs' environment-variable tag
_Loader.add_multi_constructor("tag:yaml.org,2002:python/", lambda loader, suffix, node: None)


def _config():
    return yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=_Loader)


def _nav_files(nav):
    for item in nav:
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            for v in item.values():
                yield from ([v] if isinstance(v, str) else _nav_files(v))


def _resolve(dotted: str):
    parts = dotted.split(".")
    obj, i = None, len(parts)
    while i > 0:
        try:
            obj = importlib.import_module(".".join(parts[:i]))
            break
        except ModuleNotFoundError:
            i -= 1
    assert obj is not None, f"{dotted}: no importable module prefix"
    for name in parts[i:]:
        obj = getattr(obj, name)   # AttributeError names the missing piece
    return obj


def _refs():
    out = {}
    for page in PAGES:
        for m in REF.finditer(page.read_text()):
            out.setdefault(m.group(0), page.relative_to(DOCS).as_posix())
    return sorted(out.items())


def test_docs_name_many_functions():
    refs = _refs()
    assert len(refs) >= 40, f"only {len(refs)} bondlab references in docs/"
    theory = {p for _, p in refs if p.startswith("theory/")}
    assert theory == {f"theory/{p.name}" for p in (DOCS / "theory").glob("*.md")}, "every theory page names its code"


@pytest.mark.parametrize("dotted,page", _refs(), ids=[r for r, _ in _refs()])
def test_reference_resolves(dotted, page):
    try:
        _resolve(dotted)
    except (AttributeError, ImportError) as e:
        pytest.fail(f"docs/{page} names {dotted}, which does not exist: {e}")


def test_nav_points_to_existing_files_and_lists_every_page():
    files = list(_nav_files(_config()["nav"]))
    missing = [f for f in files if not (DOCS / f).exists()]
    assert not missing, f"nav entries without a file: {missing}"
    pages = {p.relative_to(DOCS).as_posix() for p in PAGES}
    assert pages <= set(files), f"pages missing from the nav: {sorted(pages - set(files))}"


def test_every_notebook_is_in_the_nav():
    notebooks = sorted(p.name for p in (ROOT / "bondlab" / "notebooks").glob("*.ipynb"))
    assert notebooks, "bondlab/notebooks/ is empty"
    executed = sorted(p.name for p in (DOCS / "notebooks").glob("*.ipynb"))
    assert executed == notebooks, "docs/notebooks/ must hold one executed copy per notebook: run make docs"
    listed = {f for f in _nav_files(_config()["nav"]) if f.endswith(".ipynb")}
    unlisted = [n for n in notebooks if f"notebooks/{n}" not in listed]
    assert not unlisted, f"add these notebooks to the nav in mkdocs.yml: {unlisted}"


def _table_rows(page: str):
    """Markdown table rows of a page as lists of cell strings."""
    rows = []
    for line in (DOCS / page).read_text().splitlines():
        if line.startswith("|") and not set(line) <= set("|- "):
            rows.append([c.strip() for c in line.strip("|").split("|")])
    return rows


def _numbers(cells):
    return [float(c.replace("−", "-")) for c in cells]


def test_kl_table_matches_the_bound():
    from bondlab.theory import bon_kl_bound
    rows = _table_rows("theory/choosing-n.md")
    head = next(r for r in rows if r[0] == r"\(N\)")
    vals = next(r for r in rows if r[0].startswith(r"\(\log N - (N-1)/N\)"))
    ns, kls = _numbers(head[1:]), _numbers(vals[1:])
    assert len(ns) == len(kls) >= 4
    np.testing.assert_allclose(kls, bon_kl_bound(np.array(ns)), atol=5e-4)


def test_jbond_table_matches_the_reward_mean():
    import torch
    from bondlab.objectives import LOG16, jbond_reward
    rows = _table_rows("theory/jbond.md")
    head = next(r for r in rows if r[0] == r"\(p_\le\)")
    logs = next(r for r in rows if r[0] == r"\(\log p_\le\)")
    surr = next(r for r in rows if r[0].startswith(r"\(-\log 16"))
    p = np.array(_numbers(head[1:]))
    np.testing.assert_allclose(_numbers(logs[1:]), np.log(p), atol=5e-4)
    np.testing.assert_allclose(_numbers(surr[1:]), -np.log(16) * (1 - p) ** 2, atol=5e-4)
    assert LOG16 == pytest.approx(np.log(16))
    # the closed form against the sampled reward: anchor rewards uniform on (0, 1), r(y) = p, so p_le = p
    g = torch.Generator().manual_seed(0)
    m = 200_000
    for pi in p:
        r1, r2 = torch.rand(m, generator=g, dtype=torch.float64), torch.rand(m, generator=g, dtype=torch.float64)
        mean = jbond_reward(torch.full((m,), float(pi), dtype=torch.float64), r1, r2).mean().item()
        assert mean == pytest.approx(-np.log(16) * (1 - pi) ** 2, abs=0.02)
