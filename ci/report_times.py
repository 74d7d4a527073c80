"""Print the notebook wall times recorded by tests/test_notebooks.py."""

import json
from pathlib import Path

rows = [json.loads(p.read_text()) for p in sorted(Path("_build/notebook_times").glob("*.json"))]
if rows:
    print(f"{'notebook':60s} {'profile':8s} seconds")
    for r in rows:
        print(f"{r['notebook']:60s} {r['profile']:8s} {r['seconds']:7.1f}")
