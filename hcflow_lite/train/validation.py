"""Validation during training: PSNR at τ = 0 and at the recipe's temperature (spec §9).

For each validation image (HR mod-cropped to the scale, optionally centre-cropped to
``validation.crop``):

* SR: ``samples`` reconstructions :math:`f^{-1}(y^*, \\tau)` per temperature (one at τ = 0,
  which is deterministic), PSNR on RGB and on Y (BT.601), ``scale`` pixels of border
  cropped, as the official validation; and the NLL of the HR.
* rescaling: the model's own 8-bit LR :math:`Q(\\operatorname{clamp}(\\hat y))`, reconstructed
  at each temperature; PSNR of the HR as above, and the PSNR of the LR against the bicubic LR.

Samples use generators seeded by (seed, image, sample), so validations are comparable across
iterations and resumptions.  The first ``save_images`` images are written as PNGs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

from ..data import save_image
from ..models import HCFlow, quantize
from .config import ValidationConfig
from .sampling import STREAM_VAL, make_generator

__all__ = ["psnr", "validate"]


def psnr(a: torch.Tensor, b: torch.Tensor, crop_border: int = 0, y_channel: bool = False) -> float:
    """:func:`hcflow_lite.metrics.psnr` on ``3×H×W`` images in [0, 1] (8-bit rounded, as the official metric)."""
    from ..metrics import psnr as _psnr

    return float(_psnr(a, b, crop_border=crop_border, y_channel=y_channel))


def _centre_crop(x: torch.Tensor, size: int | None, mult: int) -> torch.Tensor:
    h, w = x.shape[-2:]
    th, tw = (h // mult) * mult, (w // mult) * mult
    if size is not None:
        s = max((size // mult) * mult, mult)
        th, tw = min(th, s), min(tw, s)
    top, left = (h - th) // 2, (w - tw) // 2
    return x[..., top : top + th, left : left + tw]


@torch.no_grad()
def validate(
    model: HCFlow,
    dataset: Dataset,
    cfg: ValidationConfig,
    *,
    seed: int = 0,
    device: torch.device | str = "cpu",
    image_dir: str | Path | None = None,
) -> list[dict[str, Any]]:
    """One row per temperature: ``temperature, psnr, psnr_y, images`` (+ ``nll`` SR, ``lr_psnr`` rescaling)."""
    was_training = model.training
    model.eval()
    scale = model.scale
    sr = model.config.task == "sr"
    temps: Sequence[float] = cfg.temperatures
    acc: dict[float, dict[str, float]] = {t: {"psnr": 0.0, "psnr_y": 0.0, "n": 0} for t in temps}
    extra = {"nll": 0.0, "lr_psnr": 0.0, "n": 0}
    n_images = len(dataset)  # type: ignore[arg-type]
    if cfg.max_images is not None:
        n_images = min(n_images, cfg.max_images)
    try:
        for i in range(n_images):
            item = dataset[i]
            name = str(item.get("name", f"{i:04d}"))
            hr_full = item["hr"]
            hr = _centre_crop(hr_full, cfg.crop, scale)
            if hr.shape != hr_full.shape or "lr" not in item:
                from .data import bicubic_lr

                lr = bicubic_lr(hr, scale)
            else:
                lr = item["lr"]
            hr, lr = hr[None].to(device), lr[None].to(device)
            if sr:
                g = make_generator(seed, STREAM_VAL, i, device=device)
                noise = torch.rand(hr.shape, generator=g, device=device) / float(model.config.quant or 1)
                extra["nll"] += float(model.encode(hr, lr, dequant_noise=noise).nll)
                source = lr
            else:
                y = quantize(model.encode(hr).lr)
                extra["lr_psnr"] += psnr(y[0], lr[0])
                source = y
                if image_dir is not None and i < cfg.save_images:
                    save_image(y[0].cpu(), Path(image_dir) / f"{name}_lr.png")
            extra["n"] += 1
            for t in temps:
                n_samples = 1 if t == 0 else cfg.samples
                for s in range(n_samples):
                    g = make_generator(seed, STREAM_VAL, i, 1 + s, device=device)
                    out = model.decode(source, t, generator=g)[0]
                    acc[t]["psnr"] += psnr(out, hr[0], crop_border=scale)
                    acc[t]["psnr_y"] += psnr(out, hr[0], crop_border=scale, y_channel=True)
                    acc[t]["n"] += 1
                    if image_dir is not None and i < cfg.save_images and s == 0:
                        save_image(out.cpu(), Path(image_dir) / f"{name}_t{t:g}.png")
    finally:
        model.train(was_training)
    rows = []
    for t in temps:
        n = max(acc[t]["n"], 1)
        row: dict[str, Any] = {"temperature": t, "psnr": acc[t]["psnr"] / n, "psnr_y": acc[t]["psnr_y"] / n,
                               "images": extra["n"]}
        if sr:
            row["nll"] = extra["nll"] / max(extra["n"], 1)
        else:
            row["lr_psnr"] = extra["lr_psnr"] / max(extra["n"], 1)
        rows.append(row)
    return rows


def format_rows(rows: Sequence[dict[str, Any]]) -> str:
    parts = []
    for r in rows:
        s = f"τ={r['temperature']:g}: PSNR {r['psnr']:.2f} dB (Y {r['psnr_y']:.2f})"
        parts.append(s)
    tail = ""
    if rows and "nll" in rows[0] and math.isfinite(rows[0]["nll"]):
        tail = f", NLL {rows[0]['nll']:.3f}"
    if rows and "lr_psnr" in rows[0]:
        tail = f", LR PSNR {rows[0]['lr_psnr']:.2f} dB"
    return "; ".join(parts) + tail
