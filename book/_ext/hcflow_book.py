"""Sphinx extension of the book: the version of hcflow_lite, honest execution caching, local assets.

* ``{{ hcflow_lite_version }}`` in any page (a MyST substitution), the HTML footer and Sphinx's
  ``release`` all show ``hcflow_lite.__version__``, read from ``hcflow_lite/__init__.py`` when the
  book is built, so the version is never typed twice.
* Executed notebooks are cached (jupyter-cache, ``execute.cache`` in ``_config.yml``) in one
  folder per profile and per state of the library: ``_build/.jupyter_cache/<profile>-<key>``,
  where ``key`` hashes ``hcflow_lite/`` and ``ci/constraints.txt``.  jupyter-cache itself only
  looks at the notebooks' code, so without this a ``lite`` build would reuse ``smoke`` outputs, and
  a change to the library would leave stale numbers in the book.  Older folders of the same
  profile are removed.
* A build with ``MPLBACKEND`` set to a non-inline backend warns: the kernels would draw every
  ``plt.show()`` figure into nothing, and the pages would lack them.
* MathJax and the widget manager load from ``book/_static/vendor/`` (``ci/web_assets.py``); a
  build without them warns (an error under ``-W``) instead of publishing pages with raw TeX.
"""

from __future__ import annotations

import ast
import hashlib
import os
import shutil
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.util import logging

ROOT = Path(__file__).resolve().parents[2]
VENDOR = ROOT / "book" / "_static" / "vendor"
REQUIRED = ["mathjax/tex-chtml.js", "html-manager/embed-amd.js", "requirejs/require.js"]
logger = logging.getLogger(__name__)


def package_version(root: Path = ROOT) -> str:
    """``__version__`` of ``hcflow_lite/__init__.py`` (the one place it is written)."""
    tree = ast.parse((root / "hcflow_lite" / "__init__.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__version__" for t in node.targets):
            return str(ast.literal_eval(node.value))
    raise ValueError("hcflow_lite/__init__.py has no __version__")


def library_key(root: Path = ROOT) -> str:
    """A short hash of everything a notebook's results depend on besides its own code."""
    digest = hashlib.sha256()
    files = sorted(p for p in (root / "hcflow_lite").rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    for path in [*files, root / "ci" / "constraints.txt"]:
        if path.is_file():
            digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def set_version(app: Sphinx, config: Config) -> None:
    version = package_version()
    config.version = config.release = version
    config.myst_substitutions = {**config.myst_substitutions, "hcflow_lite_version": version}
    options = dict(config.html_theme_options or {})
    repo = options.get("repository_url", "").rstrip("/")
    footer = f"Built with <code>hcflow_lite</code> {version}"
    if repo:
        changelog = f"{repo}/blob/{options.get('repository_branch') or 'main'}/CHANGELOG.md"
        footer += f' (<a href="{changelog}">changelog</a>)'
    options["extra_footer"] = " ".join(x for x in (options.get("extra_footer", ""), footer + ".") if x)
    config.html_theme_options = options


def set_cache_folder(app: Sphinx, config: Config) -> None:
    base = config.nb_execution_cache_path
    if config.nb_execution_mode != "cache" or not base:
        return
    base = Path(base) if Path(base).is_absolute() else ROOT / base
    profile = os.environ.get("HCFLOW_PROFILE", "lite")
    folder = base / f"{profile}-{library_key()}"
    if base.is_dir():
        for old in base.glob(f"{profile}-*"):
            if old != folder and old.is_dir():
                shutil.rmtree(old, ignore_errors=True)
    config.nb_execution_cache_path = str(folder)
    logger.info("hcflow_book: executed notebooks are cached in %s", folder)


def check_environment(app: Sphinx) -> None:
    if app.builder.format != "html":
        return
    missing = [f for f in REQUIRED if not (VENDOR / f).is_file()]
    if missing:
        logger.warning(
            "book/_static/vendor/ lacks %s: the pages would show raw TeX and no widgets offline; "
            "run `python ci/web_assets.py` (ci/setup.sh does)", ", ".join(missing)
        )
    backend = os.environ.get("MPLBACKEND", "")
    if backend and "inline" not in backend and app.config.nb_execution_mode not in ("off", False):
        logger.warning(
            "MPLBACKEND=%s: the notebooks' plt.show() figures would be missing from the book; "
            "build without MPLBACKEND (ci/build_book.sh does)", backend
        )


def dedupe_scripts(app: Sphinx, pagename: str, templatename: str, context: dict, doctree: object) -> None:
    """Drop repeated inline scripts (sphinx-thebe adds its ``const THEBE_JS_URL`` twice under
    Jupyter Book, and the second copy is a SyntaxError in every page)."""
    seen, unique = set(), []
    for script in context.get("script_files", []):
        key = (getattr(script, "filename", script) or "", tuple(sorted(getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def setup(app: Sphinx) -> dict:
    app.connect("config-inited", set_version)
    app.connect("config-inited", set_cache_folder)
    app.connect("builder-inited", check_environment)
    app.connect("html-page-context", dedupe_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
