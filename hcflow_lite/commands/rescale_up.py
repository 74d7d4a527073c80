"""Reconstruct HR images from the LR PNGs that ``rescale-down`` wrote (HCFlow rescaling model).

Example::

    python -m hcflow_lite rescale-up small/ --checkpoint runs/rescale_x4-lite/last.pt -o restored/

The high-frequency latents are drawn at temperature τ (1.0, as the paper evaluates; τ = 0
uses their means).  The LR must be the model's own, stored losslessly: a bicubic LR or a
JPEG gives a poor result — rescaling is not super-resolution (HCFlow#2, IRN#4, #28).  When
the PNG carries the original size (``hcflow:hr_size``), the output is cropped back to it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .rescale_down import SIZE_KEY
from .upscale import add_model_arguments, list_inputs, load_model

HELP = "LR PNGs written by rescale-down → HR images (HCFlow rescaling checkpoint)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", help="an LR PNG or a folder of them")
    add_model_arguments(parser)
    parser.add_argument("--output", "-o", default="upscaled", help="output folder (default: ./upscaled)")
    parser.add_argument("--temperature", "-t", type=float, default=1.0, help="τ of the latents (default 1.0)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the latents (default 0)")


def _stored_size(path: Path) -> tuple[int, int] | None:
    from PIL import Image

    with Image.open(path) as im:
        text = getattr(im, "text", {}) or {}
        value = text.get(SIZE_KEY)
        lossy = im.format not in ("PNG", "BMP", "TIFF", "PPM")
    if lossy:
        print(f"warning: {path.name} is not a lossless image: the reconstruction will be poor (IRN#6)", file=sys.stderr)
    if value is None:
        return None
    try:
        h, w = (int(v) for v in value.lower().split("x"))
    except ValueError:
        return None
    return h, w


def run(args: argparse.Namespace) -> int:
    import torch

    from ..data import load_image, save_image

    if args.temperature < 0:
        raise ValueError("--temperature must be ≥ 0")
    files = list_inputs(args.input)
    model = load_model(args.checkpoint, args.options, "rescaling", args.device)
    device = next(model.parameters()).device
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    g = torch.Generator(device=device)
    for f in files:
        size = _stored_size(f)
        lr = load_image(f)[None].to(device)
        g.manual_seed(args.seed)
        with torch.no_grad():
            hr = model.upscale(lr, args.temperature, generator=g)[0]
        if size is not None:
            h, w = size
            if h > hr.shape[-2] or w > hr.shape[-1]:
                raise ValueError(f"{f}: stored size {h}×{w} exceeds the reconstruction {hr.shape[-2]}×{hr.shape[-1]}")
            hr = hr[:, :h, :w]
        path = save_image(hr.cpu(), out / f"{f.stem}.png")
        print(f"{f.name}: {lr.shape[-2]}×{lr.shape[-1]} → {hr.shape[-2]}×{hr.shape[-1]} → {path}")
    print(f"wrote {len(files)} image(s) to {out}")
    return 0
