"""The docs site: every `bondlab.xxx.yyy` name in docs/ resolves by import, the nav lists every notebook
and only files that exist, and the numbers printed in the theory tables match the library."""
import importlib
import importlib.util
import pathlib
import re
import textwrap

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


# The API reference (docs/api/*.md): mkdocstrings renders each `::: bondlab.module` directive from the source.
# These checks read the directives, not the built site, so they cost no mkdocs build; `make docs` builds it.
API = DOCS / "api"
DIRECTIVE = re.compile(r"^::: *(bondlab(?:\.\w+)*) *\n((?:(?: {4}.*)?\n)*)", re.M)
# Modules with no API page, and why: the CLI is documented by --help; plots and widgets by the notebooks;
# outputs (strict JSON / atomic writes) and student (exercise copies) serve the commands, not the reader.
NOT_IN_API = ("bondlab.cli", "bondlab.commands", "bondlab.plots", "bondlab.widgets", "bondlab.outputs",
              "bondlab.student")


def _directives():
    """{module: options dict} for every `::: module` directive in docs/api/ (options from its indented block)."""
    out = {}
    for page in sorted(API.glob("*.md")):
        for m in DIRECTIVE.finditer(page.read_text()):
            block = yaml.safe_load(textwrap.dedent(m.group(2))) or {}
            assert m.group(1) not in out, f"{m.group(1)} is rendered twice (docs/api/{page.name})"
            out[m.group(1)] = block.get("options", {})
    return out


def _covers(directives, module):
    """The directive that renders `module`: its own, or a parent's with show_submodules."""
    parts = module.split(".")
    for i in range(len(parts), 0, -1):
        opts = directives.get(".".join(parts[:i]))
        if opts is not None and (i == len(parts) or opts.get("show_submodules")):
            return opts
    return None


def _modules():
    """Every bondlab module, by its file (nothing imported): bondlab.lm.model, bondlab.hf, ..."""
    pkg = ROOT / "bondlab"
    for f in sorted(pkg.rglob("*.py")):
        parts = ("bondlab", *f.relative_to(pkg).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if not any(p.startswith("_") for p in parts):
            yield ".".join(parts)


def test_api_reference_is_in_the_nav():
    listed = {f for f in _nav_files(_config()["nav"]) if f.startswith("api/")}
    assert listed == {f"api/{p.name}" for p in API.glob("*.md")}
    assert len(listed) >= 10, "one page per part: bon, theory, divergences, quantiles, objectives, ... hf"


def test_every_top_level_export_is_in_the_api_reference():
    import bondlab
    directives = _directives()
    missing = []
    for name in bondlab.__all__:
        if name == "__version__":
            continue
        module = getattr(bondlab, name).__module__
        opts = _covers(directives, module)
        members = None if opts is None else opts.get("members")
        exported = name in getattr(importlib.import_module(module), "__all__", [name])   # `filters: public`
        if opts is None or members is False or (isinstance(members, list) and name not in members) or not exported:
            missing.append(f"{name} ({module})")
    assert not missing, f"not rendered by any `::: module` directive in docs/api/: {missing}"
    assert len(bondlab.__all__) >= 25


def test_every_module_has_an_api_page():
    directives = _directives()
    modules = list(_modules())
    assert "bondlab.lm.model" in modules and "bondlab.hf.train" in modules
    uncovered = [m for m in modules if not m.startswith(NOT_IN_API) and _covers(directives, m) is None]
    assert not uncovered, f"add a `::: module` directive to a page in docs/api/ for: {uncovered}"
    unknown = [d for d in directives if d not in modules]
    assert not unknown, f"docs/api/ renders modules that do not exist: {unknown}"
    for module, opts in directives.items():   # an explicit member list names only what the module has
        for name in opts.get("members") or []:
            assert hasattr(importlib.import_module(module), name), f"{module} has no {name} (docs/api/)"


def test_hook_drops_sphinx_roles_on_api_pages_only():
    if importlib.util.find_spec("mkdocs") is None:
        pytest.skip("the docs extra is not installed (make docs installs it)")
    from types import SimpleNamespace
    spec = importlib.util.spec_from_file_location("mkdocs_hooks", ROOT / "tools" / "mkdocs_hooks.py")
    hooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hooks)
    html = "see :func:<code>bondlab.bon.bon_probs</code> and :mod:<code>bondlab.jbond</code>; a :b: ratio"
    page = lambda uri: SimpleNamespace(file=SimpleNamespace(src_uri=uri))   # noqa: E731
    assert hooks.on_page_content(html, page("api/bon.md"), None, None) == \
        "see <code>bondlab.bon.bon_probs</code> and <code>bondlab.jbond</code>; a :b: ratio"
    assert hooks.on_page_content(html, page("theory/bon.md"), None, None) == html
