"""CelebA faces as SRFlow/HCFlow prepare them: aligned, cropped, 160×160, MATLAB bicubic LR.

The recipe (SRFlow's README, followed by HCFlow for its ×8 face model):

1. align each in-the-wild CelebA photo by its facial landmarks with a similarity transform
   (rotation, uniform scale, shift) onto a standard face placed in a square crop (SRFlow used
   HD-CelebA-Cropper: 640×640, ``face_factor`` 0.6 = the face's width relative to the crop,
   bicubic interpolation, edge padding);
2. downscale the crop with MATLAB bicubic to the 160×160 HR image;
3. downscale that to the LR (20×20 for ×8), again MATLAB bicubic;
4. split by CelebA's own partition (train 000001–162770, validation 162771–182637, test the rest).

:func:`align_face` implements step 1 for any set of landmarks and a template.  By default it
uses CelebA's own five landmarks (``list_landmarks_celeba.txt``: eyes, nose, mouth corners)
and :data:`FIVE_POINT_TEMPLATE`, our standard face: eye distance 0.44 face widths, eyes at 42 %
of the crop height (``move_h`` = 0.12).  With HD-CelebA-Cropper's 68-point ``landmark.txt``
and ``standard_landmark_68pts.txt`` (passed as ``landmarks``/``template``) and ``move_h``
0.25, the geometry is HD-CelebA-Cropper's.  Interpolation: PyTorch's bicubic
(``grid_sample``, a = −0.75, as OpenCV's ``INTER_CUBIC``), so crops agree with the cropper's
to within interpolation rounding, not bit for bit.

:func:`prepare_celeba` runs the whole recipe over a CelebA folder, writing
``<root>/CelebA/{train,val,test}/HR/*.png`` and ``…/LR_bicubic/X8/*.png``; it skips images it
has already written, so an interrupted run resumes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .images import load_image, save_image
from .resize import imresize

__all__ = [
    "CELEBA_SPLITS",
    "FIVE_POINT_TEMPLATE",
    "align_face",
    "prepare_celeba",
    "prepare_face",
    "read_landmarks",
    "read_partition",
    "similarity_transform",
]

CELEBA_SPLITS = {0: "train", 1: "val", 2: "test"}

#: Five landmarks (left eye, right eye, nose tip, left and right mouth corner; x right, y down)
#: of a frontal face, in units of the face width, centred on their centroid.
FIVE_POINT_TEMPLATE = np.array(
    [[-0.22, -0.254], [0.22, -0.254], [0.0, -0.004], [-0.183, 0.256], [0.183, 0.256]], dtype=np.float64
)

_HOW_TO_GET = (
    "CelebA cannot be downloaded automatically: from the CelebA website "
    "(mmlab.ie.cuhk.edu.hk/projects/CelebA.html) get 'In-The-Wild Images' (img_celeba.7z, unpack with 7z) "
    "or 'Align&Cropped Images' (img_align_celeba.zip), and the annotation files "
    "list_landmarks_celeba.txt / list_landmarks_align_celeba.txt and list_eval_partition.txt"
)


def read_landmarks(path: str | Path) -> dict[str, np.ndarray]:
    """``{file name: (n, 2) array}`` from a CelebA (``list_landmarks_*.txt``) or HD-CelebA-Cropper landmark file.

    CelebA's files start with a count line and a header line; HD-CelebA-Cropper's have neither.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"landmark file not found: {path}. {_HOW_TO_GET}")
    out: dict[str, np.ndarray] = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        parts = line.split()
        if not parts or len(parts) < 3 or not parts[1].lstrip("-").replace(".", "", 1).isdigit():
            continue  # count line, header line, blank lines
        if (len(parts) - 1) % 2:
            raise ValueError(f"{path}, line {number}: expected a name and x y pairs, got {len(parts) - 1} numbers")
        out[parts[0]] = np.asarray(parts[1:], dtype=np.float64).reshape(-1, 2)
    if not out:
        raise ValueError(f"no landmarks in {path}")
    return out


def read_partition(path: str | Path) -> dict[str, str]:
    """``{file name: "train" | "val" | "test"}`` from CelebA's ``list_eval_partition.txt``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"partition file not found: {path}. {_HOW_TO_GET}")
    out = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2 or parts[1] not in ("0", "1", "2"):
            raise ValueError(f"{path}, line {number}: expected '<file> <0|1|2>', got {line!r}")
        out[parts[0]] = CELEBA_SPLITS[int(parts[1])]
    return out


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The least-squares similarity ``T`` (2×3) with ``T·[src; 1] ≈ dst`` (Umeyama 1991, no reflection)."""
    src, dst = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    if src.shape != dst.shape or src.ndim != 2 or src.shape[1] != 2 or len(src) < 2:
        raise ValueError(f"need two matching (n≥2, 2) point sets, got {src.shape} and {dst.shape}")
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    cov = d.T @ s / len(src)
    u, sig, vt = np.linalg.svd(cov)
    e = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        e[1, 1] = -1
    rot = u @ e @ vt
    scale = np.trace(np.diag(sig) @ e) / s.var(0).sum()
    t = mu_d - scale * rot @ mu_s
    return np.hstack([scale * rot, t[:, None]])


def align_face(
    image: Tensor,
    landmarks: np.ndarray,
    template: np.ndarray = FIVE_POINT_TEMPLATE,
    crop_size: int = 640,
    face_factor: float = 0.6,
    move_h: float = 0.12,
    move_w: float = 0.0,
) -> Tensor:
    """Warp ``3×H×W`` so that ``landmarks`` land on the template placed in a ``crop_size²`` square.

    Target positions (pixels): ``(template + (move_w, move_h)) · crop_size · face_factor + crop_size // 2``.
    The similarity mapping them to the image's landmarks is fitted by least squares; output
    pixels are sampled bicubically, with the border replicated outside the photo.
    """
    template = np.asarray(template, np.float64)
    landmarks = np.asarray(landmarks, np.float64)
    if template.shape != landmarks.shape:
        raise ValueError(f"{len(landmarks)} landmarks but a template of {len(template)} points")
    target = (template + [move_w, move_h]) * crop_size * face_factor + crop_size // 2
    t = similarity_transform(target, landmarks)  # output pixel → source pixel
    ys, xs = torch.meshgrid(torch.arange(crop_size, dtype=torch.float64), torch.arange(crop_size, dtype=torch.float64), indexing="ij")
    mat = torch.from_numpy(t)
    sx = mat[0, 0] * xs + mat[0, 1] * ys + mat[0, 2]
    sy = mat[1, 0] * xs + mat[1, 1] * ys + mat[1, 2]
    h, w = image.shape[-2:]
    grid = torch.stack([2 * sx / (w - 1) - 1, 2 * sy / (h - 1) - 1], -1)[None].to(torch.float32)
    out = F.grid_sample(image[None].float(), grid, mode="bicubic", padding_mode="border", align_corners=True)
    return out[0].clamp(0, 1)


def prepare_face(
    image: Tensor,
    landmarks: np.ndarray,
    template: np.ndarray = FIVE_POINT_TEMPLATE,
    size: int = 160,
    crop_size: int = 640,
    face_factor: float = 0.6,
    move_h: float = 0.12,
) -> Tensor:
    """Align (:func:`align_face`), take the crop to 8 bits, MATLAB-bicubic it to ``size²`` (8-bit)."""
    crop = align_face(image, landmarks, template, crop_size, face_factor, move_h)
    crop = torch.round(crop.double() * 255) / 255
    return imresize(crop, size / crop_size, uint8=True).float()


def prepare_celeba(
    src: str | Path,
    root: str | Path,
    *,
    size: int = 160,
    scales: Sequence[int] = (8,),
    crop_size: int = 640,
    face_factor: float = 0.6,
    move_h: float = 0.12,
    images_dir: str | Path | None = None,
    landmark_file: str | Path | None = None,
    partition_file: str | Path | None = None,
    template: np.ndarray | None = None,
    splits: Sequence[str] = ("train", "val", "test"),
    limit: int | None = None,
    progress: bool = True,
) -> dict[str, int]:
    """Prepare CelebA faces into ``<root>/CelebA/<split>/HR`` and ``…/LR_bicubic/X<s>``.

    Args:
        src: the CelebA folder; by default ``img_celeba/`` (in-the-wild) with
            ``list_landmarks_celeba.txt``, else ``img_align_celeba/`` with
            ``list_landmarks_align_celeba.txt``; annotation files directly in ``src`` or in
            ``src/Anno``/``src/Eval``.
        root: the data root (the datasets' layout starts at ``<root>/CelebA``).
        size: HR size (160); scales: LR factors to write (8 → 20×20).
        crop_size, face_factor, move_h: the alignment (see :func:`align_face`).
        images_dir, landmark_file, partition_file, template: override the defaults (e.g. the
            HD-CelebA-Cropper 68-point files).
        splits: which partitions to write; limit: at most this many images per split.

    Returns:
        The number of HR images per split now present.
    """
    src, root = Path(src), Path(root)
    if not src.is_dir():
        raise FileNotFoundError(f"CelebA folder not found: {src}. {_HOW_TO_GET}")

    def find(*names: str) -> Path | None:
        for name in names:
            for base in (src, src / "Anno", src / "Eval", src / "annotations"):
                if (base / name).exists():
                    return base / name
        return None

    if images_dir is None:
        wild = find("img_celeba")
        images_dir = wild if wild is not None else find("img_align_celeba")
        if images_dir is None:
            raise FileNotFoundError(f"no img_celeba/ or img_align_celeba/ folder in {src}. {_HOW_TO_GET}")
    images_dir = Path(images_dir)
    aligned = images_dir.name == "img_align_celeba"
    if landmark_file is None:
        landmark_file = find("list_landmarks_align_celeba.txt" if aligned else "list_landmarks_celeba.txt")
        if landmark_file is None:
            raise FileNotFoundError(f"no landmark file for {images_dir.name} in {src}. {_HOW_TO_GET}")
    if partition_file is None:
        partition_file = find("list_eval_partition.txt")
        if partition_file is None:
            raise FileNotFoundError(f"no list_eval_partition.txt in {src}. {_HOW_TO_GET}")
    marks = read_landmarks(landmark_file)
    part = read_partition(partition_file)
    tmpl = FIVE_POINT_TEMPLATE if template is None else np.asarray(template, np.float64)
    for s in scales:
        if size % s:
            raise ValueError(f"HR size {size} is not a multiple of the LR scale {s}")
    todo: list[tuple[str, str]] = []
    per_split: dict[str, int] = {}
    for name in sorted(part):
        split = part[name]
        if split not in splits or name not in marks:
            continue
        if limit is not None and per_split.get(split, 0) >= limit:
            continue
        per_split[split] = per_split.get(split, 0) + 1
        todo.append((name, split))
    iterator = todo
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(todo, desc="CelebA", unit="face")
    for name, split in iterator:
        stem = Path(name).stem
        base = root / "CelebA" / split
        hr_path = base / "HR" / f"{stem}.png"
        lr_paths = {s: base / "LR_bicubic" / f"X{s}" / f"{stem}.png" for s in scales}
        if hr_path.is_file() and all(p.is_file() for p in lr_paths.values()):
            continue
        image_path = images_dir / name
        image = load_image(image_path)
        hr = prepare_face(image, marks[name], tmpl, size, crop_size, face_factor, move_h)
        for s, p in lr_paths.items():
            save_image(imresize(hr, 1 / s, uint8=True), p)
        save_image(hr, hr_path)  # last: its presence marks the face as done
    return {split: len(list((root / "CelebA" / split / "HR").glob("*.png"))) for split in splits
            if (root / "CelebA" / split / "HR").is_dir()}
