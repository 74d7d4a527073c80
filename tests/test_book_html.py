"""The checker of the built book (ci/check_book_html.py) finds what a reader would see as broken.

Two small hand-written pages go through the same static and headless-browser checks that CI runs
on the real book (``ci/test.sh``): a good one (typeset math, a loaded image, a working Colab
link) must pass, and a broken one must fail for each of its faults.  The browser part needs
Chromium: on a developer machine without it, it is skipped with a loud reason; in CI
(``CI=true``, where ``.ci/run`` installs it) its absence is a failure.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import struct
import sys
import zlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("check_book_html", ROOT / "ci" / "check_book_html.py")
check = importlib.util.module_from_spec(spec)
sys.modules["check_book_html"] = check
spec.loader.exec_module(check)

VERSION = check.read_version(ROOT)
REPO = "https://github.com/hcflow-book/hcflow-book"
MATHJAX = ROOT / "book" / "_static" / "vendor" / "mathjax"


def png(width: int, height: int) -> bytes:
    """A valid grey PNG, written by hand (zlib + the chunk layout of the PNG spec)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\0" + bytes([128]) * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def page(body: str, mathjax: bool = True) -> str:
    scripts = ('<script>window.MathJax = {"options": {"processHtmlClass": "math"}}</script>\n'
               '<script defer src="../_static/vendor/mathjax/tex-chtml.js"></script>') if mathjax else ""
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><link rel='icon' href='data:,'>{scripts}</head>"
            f"<body><main>{body}</main><footer>Built with <code>hcflow_lite</code> {VERSION}.</footer></body></html>")


@pytest.fixture(scope="module")
def book(tmp_path_factory) -> tuple[Path, Path]:
    """A two-page book: ``book/good`` (a notebook) and ``book/bad`` (a notebook with every fault)."""
    root = tmp_path_factory.mktemp("book")
    (root / "_config.yml").write_text(f"repository:\n  url: {REPO}\n  path_to_book: ''\n  branch: main\n")
    (root / "_toc.yml").write_text("format: jb-book\nroot: book/good\nchapters:\n- file: book/bad\n")
    (root / "book").mkdir()
    for name in ("good", "bad"):
        (root / "book" / f"{name}.ipynb").write_text("{}")
    html = root / "html"
    (html / "book").mkdir(parents=True)
    (html / "book" / "plot.png").write_bytes(png(40, 30))
    if MATHJAX.is_dir():
        shutil.copytree(MATHJAX, html / "_static" / "vendor" / "mathjax")
    colab = "https://colab.research.google.com/github/hcflow-book/hcflow-book/blob/main/book"
    (html / "book" / "good.html").write_text(page(
        r'<p>Inline <span class="math">\(e^{i\pi} + 1 = 0\)</span>, display</p>'
        r'<div class="math">\[\log p_X(x) = \log p_Z(f(x)) + \log\left|\det \frac{\partial f}{\partial x}\right|\]</div>'
        f'<img src="plot.png" alt="a plot"><a href="{colab}/good.ipynb">Colab</a>'))
    (html / "book" / "bad.html").write_text(page(
        r'<div class="math">\[\frac{a}{b}\]</div>'
        '<img src="missing.png" alt="a lost figure">'
        '<div class="output traceback"><pre>Traceback (most recent call last): ZeroDivisionError</pre></div>'
        '<script src="https://cdn.example.org/lib.js"></script>'
        f'<a href="{colab}/other.ipynb">Colab</a>', mathjax=False))
    return root, html


def test_colab_url_follows_the_config(book) -> None:
    root, _ = book
    assert check.expected_colab_url("book/part1/01_x", root) == (
        "https://colab.research.google.com/github/hcflow-book/hcflow-book/blob/main/book/part1/01_x.ipynb")
    # the project's own configuration: the repository and branch the Colab buttons must point at
    assert check.expected_colab_url("book/part1/01_x") == check.expected_colab_url("book/part1/01_x", root)


def test_static_checks(book) -> None:
    root, html = book
    assert check.static_problems(html, "book/good", root, VERSION) == []
    bad = "\n".join(check.static_problems(html, "book/bad", root, VERSION))
    assert "error output" in bad
    assert "loads a script from the network: https://cdn.example.org/lib.js" in bad
    assert "Colab button ['https://colab.research.google.com/github/hcflow-book/hcflow-book/blob/main/book/other.ipynb']" in bad
    assert check.static_problems(html, "book/missing", root, VERSION) == [f"missing page {html / 'book/missing.html'}"]
    assert "does not show hcflow_lite 9.9.9" in "\n".join(check.static_problems(html, "book/good", root, "9.9.9"))


@pytest.fixture(scope="module")
def chromium() -> str:
    exe = check.find_chromium()
    if exe is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("Chromium is missing in CI (.ci/run installs Debian's chromium)")
        pytest.skip("!!! Chromium is missing: the browser checks of the book were NOT tested (apt-get install chromium) !!!")
    if not MATHJAX.is_dir():
        pytest.fail("book/_static/vendor/mathjax is missing: run `python ci/web_assets.py`")
    return exe


def test_browser_checks(book, chromium: str, tmp_path: Path) -> None:
    root, html = book
    server, origin = check._serve(html)
    browser = check.Chromium(chromium)
    try:
        good = check.browse(browser, f"{origin}/book/good.html", tmp_path / "good.png")
        bad = check.browse(browser, f"{origin}/book/bad.html")
    finally:
        browser.close()
        server.shutdown()
    assert (good["math"], good["typeset"], good["rawTex"]) == (2, 2, [])
    assert good["mathjaxFontsLoaded"] > 0
    assert [i["width"] for i in good["images"]] == [40]
    assert check.browser_problems("book/good", good, origin, root) == []
    assert (tmp_path / "good.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    problems = "\n".join(check.browser_problems("book/bad", bad, origin, root))
    assert "1 of 1 math elements not typeset" in problems
    assert r"raw TeX on the page: '\\[\\frac{a}{b}\\]'" in problems
    assert "image not loaded" in problems and "missing.png" in problems
    assert "1 error outputs" in problems
    assert "requests something outside the book: https://cdn.example.org/lib.js" in problems
    assert "Colab button" in problems
