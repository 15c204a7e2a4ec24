"""The package a student installs: build the sdist and, from it, the wheel (setuptools' PEP 517 hooks, no
network); both carry the six notebooks. Install the wheel into a fresh venv outside the repository and, there,
run `bondlab demo --smoke`, `bondlab notebooks d` and notebook d/01_* in smoke mode.

The fresh venv gets bondlab from the wheel only (`pip install --no-deps`). Its dependencies (torch, numpy,
Jupyter, ...) are the project venv's, reached through one .pth line holding that venv's site-packages folder:
a plain path line, so the project's editable bondlab (installed by an import line in a .pth file there) is
not loaded, and the wheel's copy is the one imported (checked below). This takes seconds, not minutes."""
import json
import os
import pathlib
import subprocess
import sys
import sysconfig
import tarfile
import venv
import zipfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted(p.name for p in (ROOT / "bondlab" / "notebooks").glob("*.ipynb"))

EXECUTE_01 = """
import glob, sys
import nbformat
from nbclient import NotebookClient
[path] = glob.glob("d/01_*.ipynb")
nb = nbformat.read(path, as_version=4)
nb.cells.append(nbformat.v4.new_code_cell("import bondlab, pathlib; print('bondlab from', pathlib.Path(bondlab.__file__).resolve())"))
NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": "d"}}).execute()
errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.get("output_type") == "error"]
figures = sum("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))
print(path, "errors:", len(errors), "figures:", figures)
print(nb.cells[-1].outputs[0]["text"].strip() if nb.cells[-1].outputs else "bondlab from: nothing printed")
sys.exit(1 if errors or not figures else 0)
"""


def _run(args, cwd, env, timeout=600):
    r = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, f"{' '.join(map(str, args))} failed ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r.stdout


def _hook(name, src, out, env):
    """Call setuptools' PEP 517 hook ``name`` in ``src`` (no build isolation: nothing is downloaded)."""
    code = f"import setuptools.build_meta as b; print(b.{name}({str(out)!r}))"
    return out / _run([sys.executable, "-c", code], cwd=src, env=env).strip().splitlines()[-1]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """(sdist, wheel): the sdist built from the repository, the wheel built from the unpacked sdist."""
    tmp = tmp_path_factory.mktemp("dist")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    sdist = _hook("build_sdist", ROOT, tmp, env)
    with tarfile.open(sdist) as tar:
        tar.extractall(tmp / "src", filter="data")
    [src] = list((tmp / "src").iterdir())
    wheel = _hook("build_wheel", src, tmp, env)
    return sdist, wheel


def test_sdist_and_wheel_carry_the_notebooks(built):
    sdist, wheel = built
    assert len(NOTEBOOKS) == 6
    with tarfile.open(sdist) as tar:
        in_sdist = sorted(pathlib.PurePath(n).name for n in tar.getnames() if "/bondlab/notebooks/" in n)
    with zipfile.ZipFile(wheel) as z:
        in_wheel = sorted(pathlib.PurePath(n).name for n in z.namelist() if n.startswith("bondlab/notebooks/"))
        shipped = {n: json.loads(z.read(f"bondlab/notebooks/{n}")) for n in in_wheel}
    assert in_sdist == NOTEBOOKS and in_wheel == NOTEBOOKS
    for name, nb in shipped.items():   # the wheel's copies are the repository's, byte for byte in content
        assert nb == json.loads((ROOT / "bondlab" / "notebooks" / name).read_text()), name


def test_wheel_in_a_fresh_venv(built, tmp_path):
    _, wheel = built
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    py = env_dir / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(BONDLAB_SMOKE="1", MPLBACKEND="Agg", PATH=f"{env_dir / 'bin'}{os.pathsep}{env['PATH']}")
    purelib = pathlib.Path(_run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                tmp_path, env).strip())
    (purelib / "bondlab_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run([sys.executable, "-m", "pip", "--python", str(py), "install", "--quiet", "--no-deps", "--no-index",
          str(wheel)], tmp_path, env)

    where = _run([py, "-c", "import bondlab, pathlib; print(pathlib.Path(bondlab.__file__).resolve())"], tmp_path, env)
    assert pathlib.Path(where.strip()).is_relative_to(purelib.resolve()), f"bondlab imported from {where}"

    bondlab = env_dir / "bin" / "bondlab"
    out = _run([bondlab, "demo", "--smoke", "--out", "demo"], tmp_path, env)
    assert "J-BOND" in out or "jbond" in out.lower(), out[-2000:]
    assert (tmp_path / "demo" / "reward_vs_kl.png").stat().st_size > 0

    _run([bondlab, "notebooks", "d"], tmp_path, env)
    assert sorted(p.name for p in (tmp_path / "d").glob("*.ipynb")) == NOTEBOOKS
    ran = _run([py, "-c", EXECUTE_01], tmp_path, env)            # in the kernel too, bondlab is the wheel's
    assert f"bondlab from {where.strip()}" in ran, ran

    _run([bondlab, "notebooks", "s", "--student"], tmp_path, env)
    assert sorted(p.name for p in (tmp_path / "s").glob("*.ipynb")) == NOTEBOOKS
    r = subprocess.run([bondlab, "notebooks", "d"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert r.returncode == 2 and "DIR" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
