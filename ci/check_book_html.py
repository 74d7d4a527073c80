"""Static checks of the built book: every toc page exists and no page shows an error output."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml


def toc_files(toc: dict) -> list[str]:
    files = [toc["root"]]
    for part in toc.get("parts", []):
        for ch in part.get("chapters", []):
            files.append(ch["file"])
            files.extend(s["file"] for s in ch.get("sections", []))
    return files


def main(html_dir: str) -> int:
    html = Path(html_dir)
    toc = yaml.safe_load(Path("_toc.yml").read_text())
    problems = []
    for f in toc_files(toc):
        page = html / f"{f}.html"
        if not page.is_file():
            problems.append(f"missing page {page}")
            continue
        text = page.read_text(errors="replace")
        for marker in ("Traceback (most recent call last)", 'class="output traceback'):
            if marker in text:
                problems.append(f"{page}: contains {marker!r}")
    for p in problems:
        print("error:", p)
    print(f"checked {len(toc_files(toc))} pages in {html}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "_build/html"))
