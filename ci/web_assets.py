"""Put local copies of MathJax and the Jupyter widget manager into book/_static/vendor/.

    python ci/web_assets.py          # fetch (once) and unpack; a no-op when already in place
    python ci/web_assets.py --force  # unpack again

The rendered book loads MathJax (typesetting) and the ipywidgets HTML manager (widgets in the
static pages) from these copies instead of from CDNs, so it reads the same offline, on GitHub
Pages and in the headless-browser test (ci/check_book_html.py).  The packages come from the npm
registry with `npm pack` (one tarball each, no dependency tree, no node_modules), are checked
against the pinned sha512 below, and only the files the pages load are unpacked.  `ci/setup.sh`
runs this, so `bash ci/build_book.sh` and `bash ci/test.sh` always have them; the folder is
ignored by git.  To update a package, change its version, run with --print-integrity, paste.
"""

from __future__ import annotations

import argparse
import base64
import fnmatch
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENDOR = ROOT / "book" / "_static" / "vendor"
STAMP = VENDOR / ".assets.json"

# name -> npm spec, sha512 of the tarball (npm's "integrity"), files to unpack (globs below the
# package folder) and the folder under vendor/ they go to (their paths below `strip` are kept).
ASSETS = {
    "mathjax": {
        "spec": "mathjax@3.2.2",
        "integrity": "sha512-Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/FEsPsjKPZGJvtRZM1vO+geW0OhGw==",
        "strip": "es5/",
        # the combined TeX → CommonHTML component, and what it loads on demand: TeX extensions,
        # CHTML fonts, the menu, and the accessibility tools with the speech-rule engine.
        "files": ["LICENSE", "es5/tex-chtml.js", "es5/input/*", "es5/output/chtml.js", "es5/output/chtml/*",
                  "es5/ui/*", "es5/a11y/*", "es5/sre/*", "es5/adaptors/*"],
    },
    "html-manager": {
        "spec": "@jupyter-widgets/html-manager@1.0.15",
        "integrity": "sha512-5thBIV6ymNgmPVOHvzx+gGy8ZSKmSazhtGw4/c4xJDVzRhG9PTeQsRjF3FUTopvFi//SABeNz1yp47bCrJ3CQA==",
        "strip": "dist/",
        # the AMD bundle (ipywidgets 8 base, controls and output widgets) and the icon fonts it uses
        "files": ["dist/embed-amd.js", "dist/*.woff", "dist/*.woff2", "dist/*.ttf", "dist/*.eot", "dist/*.svg",
                  "dist/*.LICENSE.txt"],
    },
    "requirejs": {
        "spec": "requirejs@2.3.8",
        "integrity": "sha512-7/cTSLOdYkNBNJcDMWf+luFvMriVm7eYxp4BcFCsAX0wF421Vyce5SXP17c+Jd5otXKGNehIonFlyQXSowL6Mw==",
        "strip": "",
        "files": ["require.js"],  # MIT licence in its header
    },
}


def sri_sha512(path: Path) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()


def npm_pack(specs: list[str], dest: Path) -> dict[str, Path]:
    """Download the tarballs of ``specs`` into ``dest`` (npm's cache makes repeats offline)."""
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("error: npm is needed once to fetch MathJax and the widget manager for the book "
                         "(install Node.js, e.g. `apt-get install npm`), then run `python ci/web_assets.py`")
    res = subprocess.run([npm, "pack", "--json", "--silent", "--pack-destination", str(dest), *specs],
                         capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"error: `npm pack {' '.join(specs)}` failed:\n{res.stderr.strip()}")
    packed = json.loads(res.stdout)
    return {f"{p['name']}@{p['version']}": dest / p["filename"] for p in packed}


def unpack(name: str, asset: dict, tarball: Path, out: Path) -> int:
    got = sri_sha512(tarball)
    if got != asset["integrity"]:
        raise SystemExit(f"error: {asset['spec']}: the tarball's sha512 is {got}, not the pinned {asset['integrity']}")
    count = 0
    with tarfile.open(tarball) as tar:
        for member in tar.getmembers():
            rel = member.name.removeprefix("package/")
            if not member.isfile() or not any(fnmatch.fnmatch(rel, g) for g in asset["files"]):
                continue
            target = out / name / rel.removeprefix(asset["strip"])
            target.parent.mkdir(parents=True, exist_ok=True)
            with tar.extractfile(member) as src:  # type: ignore[union-attr]
                target.write_bytes(src.read())
            count += 1
    if count == 0:
        raise SystemExit(f"error: {asset['spec']}: none of {asset['files']} is in the package")
    return count


def wanted_stamp() -> str:
    return json.dumps(ASSETS, sort_keys=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="unpack again even if up to date")
    parser.add_argument("--print-integrity", action="store_true", help="print the sha512 of each package and stop")
    args = parser.parse_args(argv)
    if not args.force and not args.print_integrity and STAMP.is_file() and STAMP.read_text() == wanted_stamp():
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        tarballs = npm_pack([a["spec"] for a in ASSETS.values()], Path(tmp))
        if args.print_integrity:
            for spec, path in tarballs.items():
                print(spec, sri_sha512(path))
            return 0
        staging = Path(tmp) / "vendor"
        for name, asset in ASSETS.items():
            n = unpack(name, asset, tarballs[asset["spec"]], staging)
            print(f"web assets: {asset['spec']}: {n} files")
        (staging / STAMP.name).write_text(wanted_stamp())
        if VENDOR.exists():
            shutil.rmtree(VENDOR)
        VENDOR.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(staging), VENDOR)
    return 0


if __name__ == "__main__":
    sys.exit(main())
