"""Check the built book as a reader sees it.

    python ci/check_book_html.py _build/html                 # static checks of the HTML files
    python ci/check_book_html.py --browser _build/html       # + every page in headless Chromium
    python ci/check_book_html.py --browser --screenshots DIR _build/html

Every page of ``_toc.yml`` is checked.  Statically: the page exists, has no error output or
traceback, loads no script from the network, shows the version of hcflow_lite in its footer, and
a notebook page's Colab button opens that notebook on the repository's branch (both from
``_config.yml``).  In the browser (``--browser``; the pages are served from 127.0.0.1, nothing
else is reachable): every math element is typeset by MathJax (no raw TeX is left), MathJax's fonts
load, every image loads (``naturalWidth > 0``), every saved widget renders, the page requests
nothing outside the book, and no script error is raised.

Chromium is found as $CHROMIUM, ``chromium``, ``chromium-browser``, ``google-chrome``.  Where it
is missing the browser checks are skipped with a loud message, except in CI (``CI=true``), where
that is an error: ``.ci/run`` installs Debian's ``chromium``.
"""

from __future__ import annotations

import argparse
import base64
import fcntl
import functools
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlparse

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from notebooks import toc_files  # noqa: E402
from version import read_version  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
COLAB = "https://colab.research.google.com"
ERROR_MARKERS = ("Traceback (most recent call last)", 'class="output traceback', 'class="output error')
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions", "--mute-audio", "--hide-scrollbars",
]


# --------------------------------------------------------------------------------------------
# static checks


def expected_colab_url(file: str, root: Path = ROOT) -> str:
    """The Colab link of the notebook ``<file>.ipynb``, from the ``repository`` of _config.yml."""
    repo = yaml.safe_load((root / "_config.yml").read_text())["repository"]
    path = urlparse(repo["url"]).path.strip("/")  # org/name
    prefix = str(repo.get("path_to_book") or "").strip("/")
    rel = f"{prefix}/{file}.ipynb" if prefix else f"{file}.ipynb"
    return f"{COLAB}/github/{path}/blob/{repo.get('branch', 'main')}/{rel}"


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.scripts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "a" and a.get("href"):
            self.hrefs.append(a["href"] or "")
        if tag == "script" and a.get("src"):
            self.scripts.append(a["src"] or "")


def static_problems(html: Path, file: str, root: Path = ROOT, version: str | None = None) -> list[str]:
    page = html / f"{file}.html"
    if not page.is_file():
        return [f"missing page {page}"]
    text = page.read_text(errors="replace")
    out = [f"{file}: contains {m!r} (an error output)" for m in ERROR_MARKERS if m in text]
    links = _Links()
    links.feed(text)
    remote = [s for s in links.scripts if urlparse(s).scheme in ("http", "https") or s.startswith("//")]
    out += [f"{file}: loads a script from the network: {s}" for s in remote]
    colab = sorted({h for h in links.hrefs if h.startswith(COLAB)})
    if (root / f"{file}.ipynb").is_file():
        want = expected_colab_url(file, root)
        if colab != [want]:
            out.append(f"{file}: Colab button {colab or 'missing'}, expected [{want}]")
    else:
        out += [f"{file}: Colab link {h} on a page that is not a notebook" for h in colab]
    version = version or read_version(root)
    if f"<code>hcflow_lite</code> {version}" not in text:
        out.append(f"{file}: the footer does not show hcflow_lite {version}")
    return out


# --------------------------------------------------------------------------------------------
# headless Chromium through the DevTools protocol on a pipe (no debugging port is opened)


def find_chromium() -> str | None:
    for name in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


class Chromium:
    """A headless Chromium driven over ``--remote-debugging-pipe`` (fd 3: commands, fd 4: replies)."""

    def __init__(self, executable: str) -> None:
        self._profile = tempfile.TemporaryDirectory(prefix="chromium-profile-")
        cmd_read, self._cmd_write = os.pipe()
        self._reply_read, reply_write = os.pipe()

        def child_fds() -> None:  # runs in the child between fork and exec
            a = fcntl.fcntl(cmd_read, fcntl.F_DUPFD, 10)
            b = fcntl.fcntl(reply_write, fcntl.F_DUPFD, 10)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen(
            [executable, *CHROMIUM_FLAGS, f"--user-data-dir={self._profile.name}", "--remote-debugging-pipe",
             "about:blank"],
            preexec_fn=child_fds, pass_fds=(3, 4), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        os.close(cmd_read)
        os.close(reply_write)
        self._next_id = 0
        self._replies: dict[int, dict] = {}
        self.events: list[dict] = []
        self._cond = threading.Condition()
        self._stderr: list[bytes] = []
        threading.Thread(target=self._read_replies, daemon=True).start()
        threading.Thread(target=lambda: self._stderr.extend(self.proc.stderr), daemon=True).start()  # type: ignore[arg-type]

    def _read_replies(self) -> None:
        buf = b""
        with os.fdopen(self._reply_read, "rb", buffering=0) as f:
            while chunk := f.read(1 << 16):
                buf += chunk
                *messages, buf = buf.split(b"\0")
                with self._cond:
                    for raw in messages:
                        msg = json.loads(raw)
                        if "id" in msg:
                            self._replies[msg["id"]] = msg
                        else:
                            self.events.append(msg)
                    self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def send(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 60) -> dict:
        with self._cond:
            self._next_id += 1
            msg_id = self._next_id
        msg = {"id": msg_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._cmd_write, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        with self._cond:
            while msg_id not in self._replies:
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    stderr = b"".join(self._stderr).decode(errors="replace")[-2000:]
                    raise RuntimeError(f"Chromium did not answer {method} (exit code {self.proc.poll()}): {stderr}")
                self._cond.wait(min(left, 0.5))
            reply = self._replies.pop(msg_id)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def wait_event(self, method: str, session: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not any(e.get("method") == method and e.get("sessionId") == session for e in self.events):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.5))
        return True

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=5)
        except RuntimeError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._cmd_write)
        self._profile.cleanup()


# Runs in the page once it has loaded: waits for MathJax, the widgets and the images, then
# reports what a reader would see.
PAGE_REPORT_JS = r"""
(async () => {
  const sleep = ms => new Promise(r => setTimeout(r, ms));
  const until = async (ok, ms) => { const t = Date.now(); while (!ok() && Date.now() - t < ms) await sleep(50); return ok(); };
  const maths = [...document.querySelectorAll('.math')];
  if (maths.length && document.querySelector('script[src*="mathjax"]')) {
    await until(() => window.MathJax && MathJax.startup && MathJax.startup.promise, 20000);
    if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
  }
  const views = [...document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]')];
  const rendered = s => { const p = s.previousElementSibling; return !!(p && p.classList.contains('widget-subarea') && p.children.length); };
  if (views.length) await until(() => views.every(rendered), 20000);
  await until(() => [...document.images].every(i => i.complete), 20000);
  await document.fonts.ready;
  const skip = new Set(['SCRIPT', 'STYLE', 'PRE', 'CODE', 'TEXTAREA', 'MJX-CONTAINER', 'MJX-ASSISTIVE-MML']);
  const rawTex = [];
  const walker = document.createTreeWalker(document.querySelector('main') || document.body, NodeFilter.SHOW_TEXT, {
    acceptNode: n => { for (let e = n.parentElement; e; e = e.parentElement) { if (skip.has(e.tagName) || (e.classList && e.classList.contains('highlight'))) return NodeFilter.FILTER_REJECT; } return NodeFilter.FILTER_ACCEPT; }
  });
  const tex = /\\\(|\\\[|\$\$|\\begin\{|\\frac\{/;
  for (let n; (n = walker.nextNode());) if (tex.test(n.textContent)) rawTex.push(n.textContent.trim().slice(0, 80));
  const mjxFonts = [...document.fonts].filter(f => f.family.replace(/["']/g, '').startsWith('MJX'));
  return {
    math: maths.length,
    typeset: maths.filter(m => m.querySelector('mjx-container')).length,
    rawTex,
    mathjaxFontsLoaded: mjxFonts.filter(f => f.status === 'loaded').length,
    mathjaxFontErrors: mjxFonts.filter(f => f.status === 'error').map(f => f.family),
    images: [...document.images].map(i => ({src: i.currentSrc || i.src, width: i.naturalWidth, alt: i.alt})),
    widgetViews: views.length,
    widgetsRendered: views.filter(rendered).length,
    errorOutputs: document.querySelectorAll('.output.traceback, .output.error').length,
    colab: [...document.querySelectorAll('a[href^="https://colab.research.google.com"]')].map(a => a.href),
  };
})()
"""


def _serve(directory: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(directory)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def browse(chrome: Chromium, url: str, screenshot: Path | None = None, timeout: float = 60) -> dict:
    """Open ``url`` in a fresh tab and return the page report plus the network and console record."""
    target = chrome.send("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = chrome.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    try:
        for domain in ("Page", "Runtime", "Network", "Log"):
            chrome.send(f"{domain}.enable", session=session)
        chrome.send("Emulation.setDeviceMetricsOverride",
                    {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False}, session=session)
        nav = chrome.send("Page.navigate", {"url": url}, session=session)
        if nav.get("errorText"):
            return {"navigation_error": nav["errorText"]}
        if not chrome.wait_event("Page.loadEventFired", session, timeout):
            return {"navigation_error": f"no load event within {timeout} s"}
        result = chrome.send("Runtime.evaluate", {"expression": PAGE_REPORT_JS, "awaitPromise": True,
                                                  "returnByValue": True}, session=session, timeout=timeout)
        if "exceptionDetails" in result:
            return {"navigation_error": f"the page check raised: {result['exceptionDetails'].get('text')}"}
        report = result["result"]["value"]
        if screenshot is not None:
            shot = chrome.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}, session=session)
            screenshot.write_bytes(base64.b64decode(shot["data"]))
        events = [e for e in chrome.events if e.get("sessionId") == session]
        report["requests"] = [e["params"]["request"]["url"] for e in events if e["method"] == "Network.requestWillBeSent"]
        failed_ids = {e["params"]["requestId"]: e["params"].get("errorText", "") for e in events
                      if e["method"] == "Network.loadingFailed" and not e["params"].get("canceled")}
        report["failed"] = [f"{e['params']['request']['url']} ({failed_ids[e['params']['requestId']]})" for e in events
                            if e["method"] == "Network.requestWillBeSent" and e["params"]["requestId"] in failed_ids]
        report["http_errors"] = [f"{e['params']['response']['url']} ({e['params']['response']['status']})" for e in events
                                 if e["method"] == "Network.responseReceived" and e["params"]["response"]["status"] >= 400]
        report["exceptions"] = [e["params"]["exceptionDetails"].get("exception", {}).get("description")
                                or e["params"]["exceptionDetails"].get("text") for e in events
                                if e["method"] == "Runtime.exceptionThrown"]
        report["console_errors"] = [e["params"]["entry"]["text"] for e in events
                                    if e["method"] == "Log.entryAdded" and e["params"]["entry"]["level"] == "error"]
        report["console_errors"] += [" ".join(str(a.get("value", a.get("description", ""))) for a in e["params"]["args"])
                                     for e in events if e["method"] == "Runtime.consoleAPICalled"
                                     and e["params"]["type"] in ("error", "assert")]
        return report
    finally:
        chrome.send("Target.closeTarget", {"targetId": target})
        chrome.events[:] = [e for e in chrome.events if e.get("sessionId") != session]


def browser_problems(file: str, report: dict, origin: str, root: Path = ROOT) -> list[str]:
    if "navigation_error" in report:
        return [f"{file}: {report['navigation_error']}"]
    out = []
    if report["typeset"] < report["math"]:
        out.append(f"{file}: {report['math'] - report['typeset']} of {report['math']} math elements not typeset by MathJax")
    out += [f"{file}: raw TeX on the page: {t!r}" for t in report["rawTex"][:5]]
    if report["typeset"] and not report["mathjaxFontsLoaded"]:
        out.append(f"{file}: MathJax's fonts did not load {report['mathjaxFontErrors']}")
    out += [f"{file}: image not loaded: {i['src']} (alt {i['alt']!r})" for i in report["images"] if i["width"] <= 0]
    if report["widgetsRendered"] < report["widgetViews"]:
        out.append(f"{file}: {report['widgetViews'] - report['widgetsRendered']} of {report['widgetViews']} widgets not rendered")
    if report["errorOutputs"]:
        out.append(f"{file}: {report['errorOutputs']} error outputs")
    external = [u for u in report["requests"] if not u.startswith((origin, "data:", "blob:", "about:"))]
    out += [f"{file}: requests something outside the book: {u}" for u in external]
    out += [f"{file}: failed to load {u}" for u in report["failed"]]
    out += [f"{file}: HTTP error {u}" for u in report["http_errors"]]
    out += [f"{file}: script error: {x}" for x in report["exceptions"]]
    out += [f"{file}: console error: {x}" for x in report["console_errors"]]
    if (root / f"{file}.ipynb").is_file() and sorted(set(report["colab"])) != [expected_colab_url(file, root)]:
        out.append(f"{file}: Colab button {report['colab']} in the browser, expected {expected_colab_url(file, root)}")
    return out


def summary(file: str, report: dict) -> str:
    if "navigation_error" in report:
        return f"{file}: not loaded"
    return (f"{file}: math {report['typeset']}/{report['math']} typeset, images "
            f"{sum(i['width'] > 0 for i in report['images'])}/{len(report['images'])}, widgets "
            f"{report['widgetsRendered']}/{report['widgetViews']}, requests {len(report['requests'])}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html", nargs="?", default="_build/html", help="the built book (default _build/html)")
    parser.add_argument("--browser", action="store_true", help="also open every page in headless Chromium")
    parser.add_argument("--screenshots", type=Path, help="save a full-page PNG of every page here")
    parser.add_argument("--root", type=Path, default=ROOT, help="the book's source (its _toc.yml, _config.yml)")
    args = parser.parse_args(argv)
    html, root = Path(args.html).resolve(), args.root.resolve()
    files = toc_files(root)
    problems = [p for f in files for p in static_problems(html, f, root)]
    print(f"static checks: {len(files)} pages in {html}")
    if args.browser:
        exe = find_chromium()
        if exe is None:
            banner = "!" * 100
            msg = "Chromium is missing: the pages were NOT checked in a browser (apt-get install chromium)"
            if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
                problems.append(msg + "; CI must have it (.ci/run installs it)")
            else:
                print(f"\n{banner}\nWARNING: {msg}\n{banner}\n")
        else:
            if args.screenshots:
                args.screenshots.mkdir(parents=True, exist_ok=True)
            server, origin = _serve(html)
            chrome = Chromium(exe)
            start = time.perf_counter()
            try:
                for f in files:
                    if not (html / f"{f}.html").is_file():
                        continue  # already reported
                    shot = args.screenshots / (f.replace("/", "__") + ".png") if args.screenshots else None
                    report = browse(chrome, f"{origin}/{f}.html", shot)
                    print("  " + summary(f, report))
                    problems += browser_problems(f, report, origin, root)
            finally:
                chrome.close()
                server.shutdown()
            print(f"browser checks: {len(files)} pages in {time.perf_counter() - start:.1f} s ({Path(exe).name})")
    for p in problems:
        print("error:", p)
    if problems:
        print(f"{len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
