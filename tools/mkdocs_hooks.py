"""MkDocs hook (mkdocs.yml `hooks:`): serve MathJax from the site itself, so the maths renders offline.

The docs extra installs MathJax 3 from PyPI (the django-static-mathjax package: MathJax's own es5
distribution as package data, no Django needed at build time). This hook adds the few files a page needs
(the tex-mml-chtml component, its CHTML fonts and the TeX extensions it may autoload) to the build under
assets/mathjax/, where mkdocs.yml's extra_javascript loads them; nothing comes from a CDN.

It also drops the Sphinx role of a reference in a docstring on the API pages (docs/api/): the docstrings
write :func:`bondlab.bon.bon_probs`, which mkdocstrings renders as Markdown, so the page would show the
role's name in front of the code.
"""
from __future__ import annotations

import importlib.resources
import pathlib
import re

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File

TARGET = "assets/mathjax"
WANTED = ("tex-mml-chtml.js", "output/chtml/fonts/woff-v2", "input/tex/extensions")
SPHINX_ROLE = re.compile(r":(?:func|meth|class|mod|data|attr|obj|exc):(?=<code>)")


def mathjax_es5() -> pathlib.Path:
    """MathJax's es5 folder inside the installed django-static-mathjax package."""
    try:
        root = pathlib.Path(str(importlib.resources.files("mathjax"))) / "static" / "mathjax" / "es5"
    except ModuleNotFoundError:
        root = None
    if root is None or not (root / "tex-mml-chtml.js").is_file():
        raise PluginError("MathJax is missing: install the docs extra (pip install -e '.[docs]'), "
                          "which brings django-static-mathjax")
    return root


def on_files(files, config):
    es5 = mathjax_es5()
    for want in WANTED:
        path = es5 / want
        for f in ([path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())):
            rel = f.relative_to(es5).as_posix()
            files.append(File.generated(config, f"{TARGET}/{rel}", abs_src_path=str(f)))
    return files


def on_page_content(html, page, config, files):
    if page.file.src_uri.startswith("api/"):
        html = SPHINX_ROLE.sub("", html)
    return html
