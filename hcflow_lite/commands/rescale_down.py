"""Downscale images with an HCFlow rescaling model into 8-bit LR PNGs (IRN#31: a separate tool).

Example::

    python -m hcflow_lite rescale-down photos/ --checkpoint runs/rescale_x4-lite/last.pt -o small/
    python -m hcflow_lite rescale-up small/ --checkpoint runs/rescale_x4-lite/last.pt -o restored/

The LR is what the model was trained to store: :math:`Q(\\operatorname{clamp}(\\hat y))`, rounded
to 8 bits.  Keep it lossless (PNG): JPEG or video compression of the LR destroys the hidden
information and the reconstruction with it (IRN#6, #33).  Images whose size is not a multiple
of the scale are reflect-padded; the original size is written into the PNG (text chunk
``hcflow:hr_size``) and ``rescale-up`` crops back to it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .upscale import add_model_arguments, list_inputs, load_model

HELP = "HR images → 8-bit LR PNGs with an HCFlow rescaling checkpoint (undo with rescale-up)"

SIZE_KEY = "hcflow:hr_size"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", help="an HR image or a folder of HR images")
    add_model_arguments(parser)
    parser.add_argument("--output", "-o", default="downscaled", help="output folder (default: ./downscaled)")


def run(args: argparse.Namespace) -> int:
    import torch
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    from ..data import load_image, to_numpy_uint8
    from ..models import quantize

    files = list_inputs(args.input)
    model = load_model(args.checkpoint, args.options, "rescaling", args.device)
    device = next(model.parameters()).device
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    for f in files:
        hr = load_image(f)[None].to(device)
        h, w = hr.shape[-2:]
        if min(h, w) < 2:
            raise ValueError(f"{f} is too small ({h}×{w})")
        with torch.no_grad():
            lr = quantize(model.encode(hr, pad=True).lr)[0]
        info = PngInfo()
        info.add_text(SIZE_KEY, f"{h}x{w}")
        path = out / f"{f.stem}.png"
        Image.fromarray(to_numpy_uint8(lr.cpu())).save(path, pnginfo=info)
        print(f"{f.name}: {h}×{w} → {lr.shape[-2]}×{lr.shape[-1]} → {path}")
    print(f"wrote {len(files)} LR image(s) to {out}")
    return 0
