"""Datasets: paired folders, aligned crops and flips, the named layouts, the sample set, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from hcflow_lite.data import (
    DatasetNotFoundError,
    EmptyDatasetError,
    ImageReadError,
    PairedDataset,
    apply_augment,
    benchmark_dataset,
    get_dataset,
    imresize,
    load_image,
    mod_crop,
    sample_set,
    save_image,
)
from hcflow_lite.data import sample as sample_module

SET5 = Path(__file__).parent / "data" / "Set5"


def _write(path: Path, h: int, w: int, seed: int = 0) -> torch.Tensor:
    """A smooth-ish random 8-bit image (so that resizing is not trivial), saved as PNG."""
    g = torch.Generator().manual_seed(seed)
    base = torch.rand(3, h // 4 + 2, w // 4 + 2, generator=g)
    img = imresize(base, 4.0)[:, :h, :w].clamp(0, 1)
    img = (img * 0.8 + 0.2 * torch.rand(3, h, w, generator=g)).clamp(0, 1)
    return load_image(save_image(img, path))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    hr = tmp_path / "HR"
    _write(hr / "a.png", 64, 80, 1)
    _write(hr / "b.png", 50, 47, 2)  # not a multiple of 4: mod-cropped to 48×44
    return tmp_path


# ---------------------------------------------------------------- whole images
def test_whole_images_are_mod_cropped_with_matlab_lr(folder: Path) -> None:
    ds = PairedDataset(folder / "HR", scale=4)
    assert len(ds) == 2 and ds.names == ["a", "b"]
    item = ds[1]
    full = load_image(folder / "HR" / "b.png")
    assert item["name"] == "b"
    assert item["hr"].shape == (3, 48, 44) and item["lr"].shape == (3, 12, 11)
    assert torch.equal(item["hr"], full[:, :48, :44])
    assert torch.equal(item["lr"], imresize(full[:, :48, :44], 0.25, uint8=True))
    assert item["hr"].dtype == item["lr"].dtype == torch.float32
    assert PairedDataset(folder / "HR", scale=4, mod=8)[1]["hr"].shape == (3, 48, 40)


def test_set5_with_its_lr_files() -> None:
    ds = PairedDataset(SET5, SET5 / "LR_bicubic" / "X4", scale=4)
    assert ds.names == ["baby", "bird", "butterfly", "head", "woman"]
    item = ds[4]
    assert item["hr"].shape == (3, 344, 228) and item["lr"].shape == (3, 86, 57)
    assert torch.equal(item["lr"], load_image(SET5 / "LR_bicubic" / "X4" / "womanx4.png"))
    assert torch.equal(item["lr"], imresize(item["hr"], 0.25, uint8=True))


def test_cache_and_repeat_give_the_same_items(folder: Path) -> None:
    plain = PairedDataset(folder / "HR", scale=4)
    cached = PairedDataset(folder / "HR", scale=4, cache=True, repeat=3)
    assert len(cached) == 6
    for i in range(6):
        a, b = plain[i % 2], cached[i]
        assert torch.equal(a["hr"], b["hr"]) and torch.equal(a["lr"], b["lr"]) and a["name"] == b["name"]
    assert cached._cache[0][0].dtype == torch.uint8  # 8-bit images are cached compactly


# ---------------------------------------------------------------- training patches
def _locate(patch: torch.Tensor, image: torch.Tensor, step: int) -> list[tuple[int, int]]:
    p = patch.shape[-1]
    hits = []
    for t in range(0, image.shape[-2] - p + 1, step):
        for left in range(0, image.shape[-1] - p + 1, step):
            if torch.equal(image[:, t : t + p, left : left + p], patch):
                hits.append((t, left))
    return hits


@pytest.mark.parametrize("stored_lr", [True, False])
def test_patches_are_aligned_crops(folder: Path, stored_lr: bool) -> None:
    """The HR patch sits at s× the LR patch's offset; the on-the-fly LR equals the whole image's LR."""
    full_hr = mod_crop(load_image(folder / "HR" / "a.png"), 4)
    full_lr = imresize(full_hr, 0.25, uint8=True)
    lr_dir = None
    if stored_lr:
        lr_dir = folder / "LR"
        save_image(full_lr, lr_dir / "ax4.png")
        save_image(imresize(mod_crop(load_image(folder / "HR" / "b.png"), 4), 0.25, uint8=True), lr_dir / "bx4.png")
    g = torch.Generator().manual_seed(0)
    ds = PairedDataset(folder / "HR", lr_dir, scale=4, patch_size=16, generator=g)
    seen = set()
    for _ in range(12):
        item = ds[0]
        assert item["hr"].shape == (3, 16, 16) and item["lr"].shape == (3, 4, 4)
        (top, left), = _locate(item["hr"], full_hr, 4)
        assert torch.equal(item["lr"], full_lr[:, top // 4 : top // 4 + 4, left // 4 : left // 4 + 4])
        seen.add((top, left))
    assert len(seen) > 6  # random positions, including ones touching the border
    assert any(t == 0 or left == 0 or t == 48 or left == 64 for t, left in seen) or len(seen) == 12


def test_augmentation_applies_the_same_flip_to_both(folder: Path) -> None:
    full_hr = mod_crop(load_image(folder / "HR" / "a.png"), 4)
    full_lr = imresize(full_hr, 0.25, uint8=True)
    ds = PairedDataset(folder / "HR", scale=4, patch_size=16, augment=True, generator=torch.Generator().manual_seed(3))
    ops_seen = set()
    for _ in range(24):
        item = ds[0]
        found = []
        for ops in [(h, v, t) for h in (0, 1) for v in (0, 1) for t in (0, 1)]:
            undone_hr = item["hr"]  # undo: transpose, vflip, hflip (inverse order)
            undone_lr = item["lr"]
            if ops[2]:
                undone_hr, undone_lr = undone_hr.transpose(-1, -2), undone_lr.transpose(-1, -2)
            if ops[1]:
                undone_hr, undone_lr = undone_hr.flip(-2), undone_lr.flip(-2)
            if ops[0]:
                undone_hr, undone_lr = undone_hr.flip(-1), undone_lr.flip(-1)
            for top, left in _locate(undone_hr.contiguous(), full_hr, 4):
                if torch.equal(undone_lr, full_lr[:, top // 4 : top // 4 + 4, left // 4 : left // 4 + 4]):
                    found.append(ops)
        assert found, "HR and LR patches do not correspond under any common flip/transpose"
        ops_seen.update(found)
    assert len(ops_seen) >= 6
    x = torch.arange(6.0).view(1, 2, 3)
    assert torch.equal(apply_augment(x, True, False, True), x.flip(-1).transpose(-1, -2))


# ---------------------------------------------------------------- named layouts
def test_benchmark_dataset_reads_set5_layout() -> None:
    ds = benchmark_dataset("set5", SET5.parent, scale=4)
    assert len(ds) == 5 and ds.lr_dir == SET5 / "LR_bicubic" / "X4"
    assert benchmark_dataset("Set5", SET5.parent, scale=8).lr_dir is None  # no X8 files: on the fly
    assert benchmark_dataset("Set5", SET5.parent, scale=8)[0]["lr"].shape == (3, 64, 64)


def test_div2k_and_df2k_layouts(tmp_path: Path) -> None:
    for sub, name in [("DIV2K/DIV2K_train_HR", "0001.png"), ("DIV2K/DIV2K_valid_HR", "0801.png"), ("Flickr2K/Flickr2K_HR", "000001.png")]:
        _write(tmp_path / sub / name, 32, 40)
    save_image(imresize(load_image(tmp_path / "DIV2K/DIV2K_valid_HR/0801.png"), 0.25, uint8=True),
               tmp_path / "DIV2K/DIV2K_valid_LR_bicubic/X4/0801x4.png")
    val = benchmark_dataset("DIV2K-valid", tmp_path)
    assert val.lr_dir == tmp_path / "DIV2K/DIV2K_valid_LR_bicubic/X4" and val[0]["lr"].shape == (3, 8, 10)
    df2k = get_dataset("DF2K", tmp_path, patch_size=16, augment=True)
    assert len(df2k) == 2 and df2k[1]["hr"].shape == (3, 16, 16)
    with pytest.raises(ValueError, match="not an evaluation set"):
        benchmark_dataset("DIV2K-train", tmp_path)


def test_sr_folders_with_grey_rgba_16bit_and_palette_images(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    hr = tmp_path / "HR"
    hr.mkdir()
    Image.fromarray(rng.integers(0, 256, (16, 16), dtype=np.uint8)).save(hr / "grey.png")
    Image.fromarray(rng.integers(0, 256, (16, 16, 4), dtype=np.uint8)).save(hr / "rgba.png")
    Image.fromarray(rng.integers(0, 65536, (16, 16), dtype=np.uint16)).save(hr / "deep.png")
    Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).convert("P").save(hr / "pal.png")
    ds = PairedDataset(hr, scale=4)
    for item in ds:
        assert item["hr"].shape == (3, 16, 16) and item["lr"].shape == (3, 4, 4)
        assert 0 <= float(item["hr"].min()) and float(item["hr"].max()) <= 1


# ---------------------------------------------------------------- errors with clear messages
def test_missing_and_empty_folders(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match=r"folder of HR images not found: .*nowhere"):
        PairedDataset(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(EmptyDatasetError, match=r"no HR images in .*empty .*it is empty"):
        PairedDataset(tmp_path / "empty")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "readme.txt").write_text("x")
    (tmp_path / "other" / "sub").mkdir()
    with pytest.raises(EmptyDatasetError, match=r"sub-folders sub and 1 other file\(s\), e.g. readme.txt"):
        PairedDataset(tmp_path / "other")


def test_named_dataset_missing_says_how_to_get_it(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match=r"Urban100 not found under .*download_benchmarks.py --root"):
        benchmark_dataset("Urban100", tmp_path)
    with pytest.raises(DatasetNotFoundError, match="download_div2k.py"):
        get_dataset("DIV2K-train", tmp_path)
    with pytest.raises(DatasetNotFoundError, match="prepare_celeba.py"):
        get_dataset("CelebA-train", tmp_path)
    with pytest.raises(KeyError, match="unknown dataset 'Set6'"):
        benchmark_dataset("Set6", tmp_path)
    (tmp_path / "Set14" / "HR").mkdir(parents=True)
    with pytest.raises(EmptyDatasetError, match="download_benchmarks.py"):
        benchmark_dataset("Set14", tmp_path)


def test_lr_partner_missing_or_wrong_size(folder: Path) -> None:
    lr = folder / "LR"
    save_image(torch.rand(3, 16, 20), lr / "ax4.png")
    with pytest.raises(FileNotFoundError, match=r"no LR image in .*LR for HR image\(s\) b.png"):
        PairedDataset(folder / "HR", lr, scale=4)
    save_image(torch.rand(3, 13, 11), lr / "bx4.png")  # b is 50×47 → needs 12×11
    ds = PairedDataset(folder / "HR", lr, scale=4)
    assert ds[0]["lr"].shape == (3, 16, 20)
    with pytest.raises(ValueError, match=r"size mismatch: LR image .*bx4.png is 13×11, but HR image .*b.png \(50×47\) at ×4 needs 12×11"):
        ds[1]


def test_corrupt_file_and_too_small_image(folder: Path) -> None:
    (folder / "HR" / "c.png").write_bytes(b"garbage")
    ds = PairedDataset(folder / "HR", scale=4)
    with pytest.raises(ImageReadError, match=r"cannot read image .*c.png"):
        ds[2]
    with pytest.raises(ValueError, match=r"b.png \(48×44 after mod-crop\) is smaller than the 48×48 HR patch"):
        PairedDataset(folder / "HR", scale=4, patch_size=48)[1]
    with pytest.raises(ValueError, match="multiple of scale"):
        PairedDataset(folder / "HR", scale=4, patch_size=30)
    with pytest.raises(ValueError, match="needs patch_size"):
        PairedDataset(folder / "HR", scale=4, augment=True)


# ---------------------------------------------------------------- the offline sample set
@pytest.fixture(scope="module")
def sample_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return sample_set(tmp_path_factory.mktemp("data") / "sample")


def test_sample_set_contents(sample_root: Path) -> None:
    manifest = json.loads((sample_root / "manifest.json").read_text())
    train = sorted((sample_root / "train" / "HR").glob("*.png"))
    assert manifest["counts"] == {"train": len(train), "val": 3, "faces": 2}
    assert 120 <= len(train) <= 200
    area = 0
    for p in train:
        with Image.open(p) as im:
            assert im.size == (192, 192) and im.mode == "RGB"
            area += im.size[0] * im.size[1]
    assert area >= 200 * 160 * 160  # at least 200 patches of 160² worth of area
    assert max(manifest["train_tiles_per_source"].values()) <= 24
    assert sorted(p.stem for p in (sample_root / "val" / "HR").glob("*.png")) == ["astronaut", "chelsea", "coffee"]
    for p in (sample_root / "faces" / "HR").glob("*.png"):
        assert Image.open(p).size == (160, 160)
    import hashlib

    for rel, digest in manifest["files"].items():
        assert hashlib.sha256((sample_root / rel).read_bytes()).hexdigest() == digest
    # training tiles are textured: no flat tile slipped through
    for p in train[::10]:
        assert sample_module.tile_score(load_image(p)) >= 4.0
    ds = PairedDataset(sample_root / "train" / "HR", scale=4, patch_size=160, augment=True)
    assert ds[0]["lr"].shape == (3, 40, 40)


@pytest.fixture
def small_sources(monkeypatch: pytest.MonkeyPatch) -> None:
    """Build the sample set from one small source only (fast tests of the caching logic)."""
    monkeypatch.setattr(sample_module, "TRAIN_SOURCES", {"coins": sample_module.TRAIN_SOURCES["coins"]})
    monkeypatch.setattr(sample_module, "VAL_SOURCES", {"coins": sample_module.TRAIN_SOURCES["coins"][0]})
    monkeypatch.setattr(sample_module, "FACE_SOURCES", {})


def test_sample_set_is_cached_and_repaired(tmp_path: Path, small_sources: None) -> None:
    root = sample_set(tmp_path / "s")
    stamp = (root / "manifest.json").stat().st_mtime_ns
    assert sample_set(root) == root
    assert (root / "manifest.json").stat().st_mtime_ns == stamp  # complete: not rebuilt
    victim = next((root / "val" / "HR").glob("*.png"))
    victim.unlink()
    assert sample_set(root) == root and victim.is_file()  # incomplete copy: rebuilt
    manifest = json.loads((root / "manifest.json").read_text())
    manifest["version"] = "0"
    (root / "manifest.json").write_text(json.dumps(manifest))
    sample_set(root)
    assert json.loads((root / "manifest.json").read_text())["version"] == sample_module.SAMPLE_SET_VERSION
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folders left


def test_sample_set_build_is_deterministic(tmp_path: Path, sample_root: Path, small_sources: None) -> None:
    """Building again gives byte-identical files (checked on one source against the full build)."""
    m = sample_module.build_sample_set(tmp_path / "again")
    full = json.loads((sample_root / "manifest.json").read_text())["files"]
    train = {rel: d for rel, d in m["files"].items() if rel.startswith("train/")}
    assert train and all(full[rel] == digest for rel, digest in train.items())
