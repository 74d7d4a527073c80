"""Super-resolve images with an HCFlow SR model: one image or a folder, any number of samples.

Examples::

    python -m hcflow_lite upscale photo.png --checkpoint runs/sr_x4_plus-lite/last.pt
    python -m hcflow_lite upscale lr_folder/ --checkpoint sr_x4-lite --temperature 0.9 --samples 4 -o out/
    python -m hcflow_lite upscale photo.png --checkpoint SR_DF2K_X4_HCFlow++.pth \\
        --options test_SR_DF2K_4X_HCFlow.yml --temperature 0.8,0.9      # per-level τ, level 0 first

The input is the *low-resolution* image (any size; grey, RGBA, palette and 16-bit images are
converted to RGB).  Temperature τ = 0 gives the deterministic mean reconstruction; larger τ
gives sharper, more varied samples (0.9 for the general ×4 model, 0.8 for faces, in the paper).
Outputs are 8-bit PNGs ``<name>_x<s>_t<τ>[_s<k>].png``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

HELP = "super-resolve LR images with an HCFlow SR checkpoint (temperature, samples, per-level τ)"


def add_model_arguments(parser: argparse.ArgumentParser, default_checkpoint: str | None = None) -> None:
    parser.add_argument("--checkpoint", "-c", required=default_checkpoint is None, default=default_checkpoint,
                        help="our checkpoint (.pt), a shipped checkpoint name, or an official .pth (with --options)")
    parser.add_argument("--options", help="the official .yml/.json options of an official .pth checkpoint")
    parser.add_argument("--device", default="auto", help="auto (CUDA if available), cpu or cuda")


def load_model(checkpoint: str, options: str | None, task: str, device: str = "auto") -> Any:
    """An SR or rescaling model in eval mode on ``device``; clear errors for the wrong task or file."""
    import torch

    from ..models import CheckpointMismatchError, load_checkpoint, load_official

    if options is not None:
        model = load_official(checkpoint, options)
    elif str(checkpoint).endswith(".pth"):
        raise ValueError(f"{checkpoint} looks like an official checkpoint: pass its options with --options <yml>")
    else:
        model = load_checkpoint(checkpoint)
    if model.config.task != task:
        other = "rescale-down / rescale-up" if model.config.task == "rescaling" else "upscale"
        raise CheckpointMismatchError(f"{checkpoint} holds a {model.config.task} model; use `{other}` with it")
    dev = "cuda" if device == "auto" and torch.cuda.is_available() else ("cpu" if device == "auto" else device)
    return model.to(dev).eval()


def list_inputs(path: str | Path) -> list[Path]:
    """An image file, or the images of a folder (sorted); a clear error when there are none."""
    from ..data import IMAGE_EXTENSIONS

    p = Path(path)
    if p.is_file():
        return [p]
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.suffix.lower() in IMAGE_EXTENSIONS and f.is_file())
        if not files:
            raise FileNotFoundError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) in {p}")
        return files
    raise FileNotFoundError(f"input not found: {p}")


def parse_temperature(text: str) -> float | list[float]:
    """``0.9`` → 0.9; ``0.8,0.9`` → one τ per level (level 0 first)."""
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"--temperature must be a number or comma-separated numbers, got {text!r}") from None
    if not values or any(v < 0 for v in values):
        raise ValueError(f"--temperature must be ≥ 0, got {text!r}")
    return values[0] if len(values) == 1 else values


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", help="an LR image or a folder of LR images")
    add_model_arguments(parser)
    parser.add_argument("--output", "-o", default="upscaled", help="output folder (default: ./upscaled)")
    parser.add_argument("--temperature", "-t", default="0.9",
                        help="τ, or one τ per level separated by commas (level 0 = finest first); default 0.9")
    parser.add_argument("--samples", "-n", type=int, default=1, help="samples per image (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the latent samples (default 0)")


def run(args: argparse.Namespace) -> int:
    import torch

    from ..data import load_image, save_image

    if args.samples < 1:
        raise ValueError("--samples must be ≥ 1")
    tau = parse_temperature(args.temperature)
    files = list_inputs(args.input)
    model = load_model(args.checkpoint, args.options, "sr", args.device)
    if isinstance(tau, list) and len(tau) != model.config.L:
        raise ValueError(f"this model has L={model.config.L} levels: give one τ or {model.config.L} values, got {len(tau)}")
    device = next(model.parameters()).device
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    label = "-".join(f"{t:g}" for t in tau) if isinstance(tau, list) else f"{tau:g}"
    g = torch.Generator(device=device)
    written = 0
    for f in files:
        lr = load_image(f)[None].to(device)
        g.manual_seed(args.seed)
        with torch.no_grad():
            srs = model.sample(lr, args.samples, tau, generator=g)[:, 0]
        for k, sr in enumerate(srs):
            suffix = f"_s{k}" if args.samples > 1 else ""
            path = save_image(sr.cpu(), out / f"{f.stem}_x{model.scale}_t{label}{suffix}.png")
            written += 1
        print(f"{f.name}: {lr.shape[-2]}×{lr.shape[-1]} → {srs.shape[-2]}×{srs.shape[-1]} ({args.samples} sample(s)) → {path.parent}")
    print(f"wrote {written} image(s) to {out}")
    return 0
