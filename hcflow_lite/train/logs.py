"""Training logs: CSV files (always) and TensorBoard (when installed and asked for).

``train_log.csv`` has one row per ``log.every`` iterations with the *mean* of each quantity over
those iterations (the running sums are part of the checkpoint, so a resumed run writes the
same rows as an uninterrupted one).  On resume, rows written after the checkpoint by the
interrupted process are dropped first.
"""

from __future__ import annotations

import csv
import math
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["CSVLog", "RunningMeans", "TensorBoardLog"]


class RunningMeans:
    """Sums and counts of logged values since the last row."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.counts: dict[str, int] = {}

    def add(self, values: Mapping[str, float]) -> None:
        for k, v in values.items():
            if v is None or not math.isfinite(v):
                continue
            self.sums[k] = self.sums.get(k, 0.0) + float(v)
            self.counts[k] = self.counts.get(k, 0) + 1

    def means(self) -> dict[str, float]:
        return {k: self.sums[k] / self.counts[k] for k in self.sums}

    def reset(self) -> None:
        self.sums.clear()
        self.counts.clear()

    def state_dict(self) -> dict[str, Any]:
        return {"sums": dict(self.sums), "counts": dict(self.counts)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.sums = {str(k): float(v) for k, v in state.get("sums", {}).items()}
        self.counts = {str(k): int(v) for k, v in state.get("counts", {}).items()}


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.8g}"
    return "" if v is None else str(v)


class CSVLog:
    """Appends rows with fixed ``columns`` (the first must be ``iteration``) to ``path``."""

    def __init__(self, path: str | Path, columns: Sequence[str], resume_from: int | None = None) -> None:
        self.path = Path(path)
        self.columns = list(columns)
        if self.columns[0] != "iteration":
            raise ValueError("the first column must be 'iteration'")
        kept: list[dict[str, str]] = []
        if resume_from is not None and self.path.is_file():
            with self.path.open(newline="") as f:
                reader = csv.DictReader(f)
                if reader.fieldnames and list(reader.fieldnames) != self.columns:
                    warnings.warn(f"{self.path}: columns changed; the old log is kept as {self.path.name}.old", stacklevel=2)
                    os.replace(self.path, self.path.with_suffix(self.path.suffix + ".old"))
                else:
                    kept = [r for r in reader if r.get("iteration", "").isdigit() and int(r["iteration"]) <= resume_from]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        with tmp.open("w", newline="") as f:
            w = csv.DictWriter(f, self.columns)
            w.writeheader()
            w.writerows(kept)
        os.replace(tmp, self.path)

    def write(self, row: Mapping[str, Any]) -> None:
        with self.path.open("a", newline="") as f:
            csv.writer(f).writerow([_fmt(row.get(c)) for c in self.columns])

    @staticmethod
    def read(path: str | Path) -> list[dict[str, float]]:
        """Rows of a log as floats (empty cells → NaN)."""
        out = []
        with Path(path).open(newline="") as f:
            for r in csv.DictReader(f):
                out.append({k: float(v) if v not in ("", None) else math.nan for k, v in r.items()})
        return out


class TensorBoardLog:
    """``torch.utils.tensorboard`` when the ``tensorboard`` package is installed; otherwise a no-op with one warning."""

    def __init__(self, logdir: str | Path, enabled: bool) -> None:
        self.writer = None
        if not enabled:
            return
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            warnings.warn("log.tensorboard is on but the tensorboard package is not installed: CSV logs only", stacklevel=2)
            return
        self.writer = SummaryWriter(str(logdir))

    def scalars(self, values: Mapping[str, float], step: int, prefix: str = "") -> None:
        if self.writer is not None:
            for k, v in values.items():
                if v is not None and math.isfinite(v):
                    self.writer.add_scalar(prefix + k, v, step)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
