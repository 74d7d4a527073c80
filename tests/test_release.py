"""The release of hcflow_lite: what `python -m build` makes, checked as users will meet it.

One module, one fresh virtual environment (installing torch is the expensive step, so it is done
once): the wheel and the sdist are built exactly as the release workflow builds them, checked by
`twine check --strict` and by their contents; then a fresh venv gets only the pinned torch and
torchvision, standing in for a Colab runtime, and the book's set-up cell runs in it for real
(Colab detection forced, ``HCFLOW_LITE_SOURCE`` pointing at the wheel).  The cell must install
the wheel with LPIPS and leave torch and torchvision exactly as they were (same files, same
inodes), and the installed package must load an official checkpoint (a parity fixture) and
reproduce the official NLL and reverse pass from outside the repository.

Cost: ~15 s to build, ~1–2 min to install torch into the fresh venv (from local wheels).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("ci_notebooks", ROOT / "ci" / "notebooks.py")
notebooks = importlib.util.module_from_spec(spec)
spec.loader.exec_module(notebooks)
VERSION = notebooks.read_version(ROOT)
CONSTRAINTS = ROOT / "ci" / "constraints.txt"
FIXTURE = ROOT / "tests" / "fixtures" / "parity" / "sr_x4"


# the fresh venv must see nothing of this checkout or of the CI environment
CLEAN_ENV = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "HCFLOW_WORKDIR", "PYTHONHOME")}


def run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    kwargs.setdefault("env", CLEAN_ENV)
    kwargs.setdefault("cwd", "/")  # not the checkout, whose hcflow_lite/ would shadow the installed one
    res = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    assert res.returncode == 0, f"{' '.join(map(str, cmd))} failed ({res.returncode}):\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
    return res


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> dict[str, Path]:
    """``python -m build``: the sdist, and the wheel built from it (as the release workflow does)."""
    out = tmp_path_factory.mktemp("dist")
    run([sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)])
    wheels, sdists = sorted(out.glob("*.whl")), sorted(out.glob("*.tar.gz"))
    assert [p.name for p in wheels] == [f"hcflow_lite-{VERSION}-py3-none-any.whl"]
    assert [p.name for p in sdists] == [f"hcflow_lite-{VERSION}.tar.gz"]
    return {"wheel": wheels[0], "sdist": sdists[0]}


def test_twine_check(dist) -> None:
    res = run([sys.executable, "-m", "twine", "check", "--strict", str(dist["wheel"]), str(dist["sdist"])])
    assert res.stdout.count("PASSED") == 2


def test_wheel_holds_the_whole_package_and_its_metadata(dist) -> None:
    source = {p.relative_to(ROOT).as_posix() for p in (ROOT / "hcflow_lite").rglob("*")
              if p.is_file() and "__pycache__" not in p.parts and p.name != ".gitkeep"}
    with zipfile.ZipFile(dist["wheel"]) as whl:
        names = set(whl.namelist())
        meta = Parser().parsestr(whl.read(f"hcflow_lite-{VERSION}.dist-info/METADATA").decode())
    assert source <= names, f"missing from the wheel: {sorted(source - names)}"
    assert {n.split("/")[0] for n in names} == {"hcflow_lite", f"hcflow_lite-{VERSION}.dist-info"}
    assert f"hcflow_lite-{VERSION}.dist-info/licenses/LICENSE" in names
    assert meta["Name"] == "hcflow-lite" and meta["Version"] == VERSION
    assert meta["License-Expression"] == "Apache-2.0"
    requires = meta.get_all("Requires-Dist")
    # torch is a range (a runtime's own torch satisfies it); torchvision and LPIPS only in the extra
    assert "torch>=2.1" in requires
    assert not [r for r in requires if re.match(r"(torchvision|lpips)\b", r) and 'extra == "metrics"' not in r]
    assert meta.get_all("Provides-Extra") == ["metrics"]


def test_sdist_holds_the_library_not_the_book(dist) -> None:
    with tarfile.open(dist["sdist"]) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    top = f"hcflow_lite-{VERSION}"
    assert {"pyproject.toml", "README.md", "LICENSE", "CHANGELOG.md", "hcflow_lite/__init__.py", "PKG-INFO"} <= names, top
    assert not [n for n in names if n.startswith(("tests/", "book/", "ci/", "data/"))]


def test_changelog_has_a_section_for_this_version() -> None:
    res = run([sys.executable, str(ROOT / "ci" / "version.py"), "--notes"])
    assert len(res.stdout.strip().splitlines()) >= 3
    assert run([sys.executable, str(ROOT / "ci" / "version.py")]).stdout.strip() == VERSION


@pytest.fixture(scope="module")
def runtime(tmp_path_factory):
    """A fresh venv with only the pinned torch and torchvision: a stand-in for Colab's runtime."""
    venv = tmp_path_factory.mktemp("colab") / "venv"
    run([sys.executable, "-m", "venv", str(venv)])
    py = venv / "bin" / "python"
    run([str(py), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
         "torch", "torchvision", "-c", str(CONSTRAINTS)])
    yield py
    # ~5 GB: never leave it in pytest's tmp folders; deleting takes a while, so it happens beside
    # the rest of the run instead of in it
    subprocess.Popen(["rm", "-rf", str(venv.parent)], start_new_session=True,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def torch_files(py: Path) -> dict[str, list[int]]:
    """Inode and mtime of torch's and torchvision's metadata and entry modules (changed by any reinstall)."""
    code = ("import importlib.metadata as m, json, os\n"
            "out = {}\n"
            "for d in ('torch', 'torchvision'):\n"
            "    dist = m.distribution(d)\n"
            "    for f in (dist.locate_file(f'{d}/__init__.py'), dist._path / 'RECORD'):\n"
            "        s = os.stat(f)\n"
            "        out[f'{d}:{os.path.basename(f)}'] = [dist.version, s.st_ino, s.st_mtime_ns]\n"
            "print(json.dumps(out))\n")
    return json.loads(run([str(py), "-c", code]).stdout)


def run_setup_cell(py: Path, cwd: Path, source: str) -> subprocess.CompletedProcess:
    script = cwd / "setup_cell.py"
    script.write_text(notebooks.setup_cell_source())
    env = {**CLEAN_ENV, "HCFLOW_FORCE_COLAB": "1", "HCFLOW_LITE_SOURCE": source,
           "PIP_CONSTRAINT": str(CONSTRAINTS), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    return subprocess.run([str(py), str(script)], capture_output=True, text=True, cwd=cwd, env=env, timeout=900)


def test_setup_cell_installs_the_wheel_and_keeps_torch(runtime: Path, dist, tmp_path: Path) -> None:
    before = torch_files(runtime)
    assert run([str(runtime), "-c", "import importlib.util as u; print(u.find_spec('hcflow_lite'))"]).stdout.strip() == "None"

    # a source that does not exist: a clear error naming it and the way out, nothing installed
    bad = run_setup_cell(runtime, tmp_path, str(tmp_path / "hcflow_lite-0.0.0-py3-none-any.whl"))
    assert bad.returncode != 0
    assert "could not install hcflow_lite from" in bad.stderr and "HCFLOW_LITE_SOURCE" in bad.stderr

    res = run_setup_cell(runtime, tmp_path, str(dist["wheel"]))
    assert res.returncode == 0, res.stdout + res.stderr
    torch_version, vision_version = before["torch:RECORD"][0], before["torchvision:RECORD"][0]
    assert f"installing hcflow_lite {VERSION}[metrics] from {dist['wheel'].as_uri()}" in res.stdout
    assert f"keeping torch=={torch_version}, torchvision=={vision_version}" in res.stdout
    assert torch_files(runtime) == before, "the set-up cell reinstalled torch or torchvision"

    probe = ("import hcflow_lite, lpips, importlib.metadata as m, json\n"
             "print(json.dumps([hcflow_lite.__file__, hcflow_lite.__version__, m.version('hcflow-lite'), m.version('lpips')]))")
    file, version, dist_version, _ = json.loads(run([str(runtime), "-c", probe], cwd=tmp_path).stdout)
    assert Path(file).is_relative_to(runtime.parent.parent) and version == dist_version == VERSION
    run([str(runtime), "-m", "pip", "check"])  # a coherent environment: lpips has its torchvision

    again = run_setup_cell(runtime, tmp_path, str(tmp_path / "never-used.whl"))  # installed: nothing to do
    assert again.returncode == 0 and "installing" not in again.stdout, again.stdout + again.stderr


SMOKE = r"""
import json, sys, torch
import hcflow_lite as hc
from hcflow_lite.models import quantize
fixture = sys.argv[1]
io = torch.load(f"{fixture}/io.pt", weights_only=True)
model = hc.load_official(f"{fixture}/state_dict.pt", f"{fixture}/options.json")
with torch.no_grad():
    enc = model.encode(io["hr"], io["lr"], dequant_noise=io["fwd_dequant_noise"])
    sr = model.decode(io["rev_lr_in"], 0.0)
    fixed = model.decode(io["rev_lr_in"], float(io["rev_tau"]), eps=[io[f"rev_eps_l{l}"] for l in range(model.config.L)])
print(json.dumps({
    "file": hc.__file__,
    "nll_rel": float(((enc.nll - io["fwd_nll"]).abs() / io["fwd_nll"].abs()).max()),
    "lr_quant_equal": bool(torch.equal(quantize(enc.lr_raw), io["fwd_y_quant"])),
    "tau0_abs": float((sr - io["rev_tau0"]).abs().max()),
    "fixed_abs": float((fixed - io["rev_fixed_latents"]).abs().max()),
}))
"""


def test_smoke_from_the_installed_wheel(runtime: Path, dist, tmp_path: Path) -> None:
    """Official checkpoint in, official numbers out, from the wheel (run from outside the repo)."""
    if run([str(runtime), "-c", "import importlib.util as u; print(u.find_spec('hcflow_lite') is None)"]).stdout.strip() == "True":
        run([str(runtime), "-m", "pip", "install", "--quiet", str(dist["wheel"]), "-c", str(CONSTRAINTS)])
    (tmp_path / "smoke.py").write_text(SMOKE)
    out = json.loads(run([str(runtime), "smoke.py", str(FIXTURE)], cwd=tmp_path).stdout)
    assert Path(out["file"]).is_relative_to(runtime.parent.parent)
    assert out["nll_rel"] <= 1e-5  # the fixtures' tolerances (tests/fixtures/parity/README.md)
    assert out["lr_quant_equal"]
    assert out["tau0_abs"] <= 1e-5 and out["fixed_abs"] <= 1e-5
    res = run([str(runtime.parent / "hcflow-lite"), "--version"], cwd=tmp_path)
    assert res.stdout.strip() == f"hcflow_lite {VERSION}"
