"""A small offline sample set, made from images shipped inside installed packages (book chapter 7).

The paper's datasets (DIV2K, Flickr2K, CelebA) are gigabytes and need a download; CI and the
``lite`` profile of the book train and evaluate on this set instead.  :func:`sample_set` builds
it once (deterministically, 5–10 s on one core) from the photographs bundled with
scikit-image and matplotlib, and caches it:

``<root>/train/HR/*.png``  150 tiles of 192×192 (5.5 M pixels, 216 patches of 160×160
    worth of area) cut from ``rocket``, ``hubble_deep_field``,
    ``immunohistochemistry``, ``retina``, ``stereo_motorcycle`` (both views), Grace Hopper,
    ``camera``, ``brick``, ``grass``, ``gravel``, ``coins`` and ``logo``, each at the scales 1,
    0.85, 0.7, 0.55 and 0.4 (MATLAB bicubic, 8-bit).  Flat tiles (mean absolute luminance
    gradient below 4 grey levels) are dropped, and a source gives at most 24 tiles, so
    the set is dominated by edges and textures, which is what lets a small ×4 model trained
    on a CPU beat bicubic; downscaled copies are sharper than the originals (less sensor blur
    and JPEG noise), like the 2K photographs of DIV2K.
``<root>/val/HR/*.png``  three held-out photographs, never cut into training tiles:
    ``astronaut`` (512×512), ``coffee`` (400×600) and ``chelsea`` (300×451; mod-cropped by
    the loaders).
``<root>/faces/HR/*.png``  two 160×160 face crops (``astronaut``, ``grace_hopper``), prepared
    as the CelebA faces are (square crop around the face, MATLAB bicubic to 160×160), for the
    ×8 face demos.
``<root>/manifest.json``  the version, the build parameters and the SHA-256 of every file.

Set5 (the evaluation set) is never part of it.  The LR images are made on the fly by
:class:`~hcflow_lite.data.PairedDataset`.  On disk: about 10 MB.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from .folders import default_data_root
from .images import save_image, to_tensor
from .resize import imresize

__all__ = ["SAMPLE_SET_VERSION", "build_sample_set", "sample_set", "tile_score", "tiles"]

SAMPLE_SET_VERSION = "1"
TILE = 192
SCALES = (1.0, 0.85, 0.7, 0.55, 0.4)
MIN_SCORE = 4.0
MAX_TILES_PER_SOURCE = 24


def _skimage(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import skimage.data

        img = getattr(skimage.data, name)()
        if isinstance(img, tuple):  # stereo_motorcycle → (left, right, disparity)
            img = img[0]
        return np.asarray(img)

    return load


def _motorcycle_right() -> np.ndarray:
    import skimage.data

    return np.asarray(skimage.data.stereo_motorcycle()[1])


def _grace_hopper() -> np.ndarray:
    import matplotlib.cbook
    from PIL import Image

    path = matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


# name → (loader, scales used).  JPEG-compressed Grace Hopper only from 0.85 down (its blocks vanish).
TRAIN_SOURCES: dict[str, tuple[Callable[[], np.ndarray], tuple[float, ...]]] = {
    "rocket": (_skimage("rocket"), SCALES),
    "hubble": (_skimage("hubble_deep_field"), SCALES),
    "ihc": (_skimage("immunohistochemistry"), SCALES),
    "retina": (_skimage("retina"), SCALES),
    "motorcycle_l": (_skimage("stereo_motorcycle"), SCALES),
    "motorcycle_r": (_motorcycle_right, SCALES),
    "grace_hopper": (_grace_hopper, SCALES[1:]),
    "camera": (_skimage("camera"), SCALES),
    "brick": (_skimage("brick"), SCALES),
    "grass": (_skimage("grass"), SCALES),
    "gravel": (_skimage("gravel"), SCALES),
    "coins": (_skimage("coins"), SCALES),
    "logo": (_skimage("logo"), SCALES),
}
VAL_SOURCES: dict[str, Callable[[], np.ndarray]] = {
    "astronaut": _skimage("astronaut"),
    "coffee": _skimage("coffee"),
    "chelsea": _skimage("chelsea"),
}
# name → (loader, (top, left, size)) of a square around the face, resized to 160×160
FACE_SOURCES: dict[str, tuple[Callable[[], np.ndarray], tuple[int, int, int]]] = {
    "astronaut": (_skimage("astronaut"), (10, 145, 160)),
    "grace_hopper": (_grace_hopper, (50, 100, 320)),
}


def tile_score(tile: Tensor) -> float:
    """Mean absolute horizontal + vertical luminance gradient, in grey levels (0–255)."""
    y = (0.299 * tile[0] + 0.587 * tile[1] + 0.114 * tile[2]) * 255
    return float((y[:, 1:] - y[:, :-1]).abs().mean() + (y[1:] - y[:-1]).abs().mean())


def tiles(image: Tensor, size: int = TILE) -> Iterator[tuple[int, int, Tensor]]:
    """Non-overlapping ``size²`` tiles of a ``3×H×W`` image, the grid centred: ``(row, col, tile)``."""
    h, w = image.shape[-2:]
    ny, nx = h // size, w // size
    oy, ox = (h - ny * size) // 2, (w - nx * size) // 2
    for i in range(ny):
        for j in range(nx):
            yield i, j, image[:, oy + i * size : oy + (i + 1) * size, ox + j * size : ox + (j + 1) * size]


def _rgb(array: np.ndarray) -> Tensor:
    return to_tensor(array)  # grey → 3 channels, RGBA composited onto white


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build_sample_set(out: str | Path, progress: bool = False) -> dict:
    """Write the sample set into the (new or empty) folder ``out``; returns the manifest."""
    out = Path(out)
    (out / "train" / "HR").mkdir(parents=True, exist_ok=True)
    (out / "val" / "HR").mkdir(parents=True, exist_ok=True)
    (out / "faces" / "HR").mkdir(parents=True, exist_ok=True)
    sources = list(TRAIN_SOURCES.items())
    if progress:
        from tqdm.auto import tqdm

        sources = tqdm(sources, desc="sample set", unit="source")
    counts: dict[str, int] = {}
    for name, (load, scales) in sources:
        full = _rgb(load()).double()
        candidates = []
        for scale in scales:
            img = full if scale == 1.0 else imresize(full, scale, uint8=True)
            for i, j, tile in tiles(img):
                score = tile_score(tile)
                if score >= MIN_SCORE:
                    candidates.append((score, scale, i, j, tile))
        candidates.sort(key=lambda c: (-c[0], -c[1], c[2], c[3]))  # sharpest first, deterministic ties
        for _, scale, i, j, tile in candidates[:MAX_TILES_PER_SOURCE]:
            save_image(tile, out / "train" / "HR" / f"{name}_s{round(scale * 100):03d}_{i}_{j}.png", compress_level=1)
        counts[name] = min(len(candidates), MAX_TILES_PER_SOURCE)
    for name, load in VAL_SOURCES.items():
        save_image(_rgb(load()), out / "val" / "HR" / f"{name}.png")
    for name, (load, (top, left, size)) in FACE_SOURCES.items():
        crop = _rgb(load())[:, top : top + size, left : left + size].double()
        face = crop if size == 160 else imresize(crop, 160 / size, uint8=True)
        save_image(face, out / "faces" / "HR" / f"{name}.png")
    files = sorted(p for p in out.rglob("*.png"))
    manifest = {
        "name": "hcflow_lite sample set",
        "version": SAMPLE_SET_VERSION,
        "tile": TILE,
        "scales": list(SCALES),
        "min_score": MIN_SCORE,
        "max_tiles_per_source": MAX_TILES_PER_SOURCE,
        "train_tiles_per_source": counts,
        "counts": {split: len(list((out / split / "HR").glob("*.png"))) for split in ("train", "val", "faces")},
        "files": {p.relative_to(out).as_posix(): _sha256(p) for p in files},
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True))
    return manifest


def _valid(root: Path) -> bool:
    """The manifest exists, has our version, and every file it lists is present."""
    try:
        manifest = json.loads((root / "manifest.json").read_text())
    except (OSError, ValueError):
        return False
    if manifest.get("version") != SAMPLE_SET_VERSION:
        return False
    return all((root / rel).is_file() for rel in manifest.get("files", {}))


def sample_set(root: str | Path | None = None, *, rebuild: bool = False, progress: bool = False) -> Path:
    """Build (once) and return the offline sample set's folder.

    Args:
        root: where it lives; default ``<data root>/sample-v1`` (``$HCFLOW_DATA`` or
            ``~/.cache/hcflow_lite/data``).
        rebuild: build again even if a complete copy exists.
        progress: show a progress bar while building.

    Returns:
        ``root``, holding ``train/HR``, ``val/HR``, ``faces/HR`` and ``manifest.json`` (see the
        module docstring for what they contain).  Use it with :class:`PairedDataset`, e.g.
        ``PairedDataset(sample_set() / "train" / "HR", scale=4, patch_size=160, augment=True)``.

    The set is written into a temporary folder and renamed into place, so concurrent callers
    (two test workers) and killed builds never leave a half-written set behind.
    """
    root = Path(root).expanduser() if root is not None else default_data_root() / f"sample-v{SAMPLE_SET_VERSION}"
    if not rebuild and _valid(root):
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.", dir=root.parent))
    try:
        with torch.no_grad():
            build_sample_set(tmp, progress=progress)
        if root.exists():
            if not rebuild and _valid(root):  # another process finished first
                return root
            old = root.with_name(f".{root.name}.old.{os.getpid()}")
            os.replace(root, old)
            shutil.rmtree(old, ignore_errors=True)
        try:
            os.replace(tmp, root)
        except OSError:
            if not _valid(root):  # lost a race with a concurrent builder that failed
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return root
