"""The README's example runs as written (with the parity fixture in place of the release file)."""

from __future__ import annotations

import re
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "tests" / "fixtures" / "parity" / "sr_x4"


def readme_example() -> str:
    text = (ROOT / "README.md").read_text()
    m = re.search(r"<!-- readme-example:.*?-->\s*```python\n(.*?)```", text, re.S)
    assert m, "README lost its example block"
    return m.group(1)


def test_readme_example_runs(tmp_path: Path, monkeypatch) -> None:
    code = readme_example()
    assert len(code.strip().splitlines()) <= 5, "the README promises five lines"
    # the release checkpoint is paper-size; the fixture is a reduced official network with its options
    code = code.replace('"SR_DF2K_X4_HCFlow++.pth", "sr_x4"', f'r"{FIX / "state_dict.pt"}", r"{FIX / "options.json"}"')
    code = code.replace('"baby_lr.png"', f'r"{ROOT / "tests/data/Set5/LR_bicubic/X4/babyx4.png"}"')
    monkeypatch.chdir(tmp_path)
    torch.manual_seed(0)
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    out = tmp_path / "baby_sr.png"
    assert out.is_file()
    sr = namespace["sr"]
    assert sr.shape == (1, 3, 512, 512) and 0 <= float(sr.min()) and float(sr.max()) <= 1
