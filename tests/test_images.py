"""Image I/O: every kind of file users have becomes a 3×H×W float tensor in [0, 1], or a clear error."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from hcflow_lite.data import ImageReadError, load_image, save_image, to_numpy_uint8


def _png16(array: np.ndarray, path: Path) -> Path:
    """Write a 16-bit RGB (H×W×3) or RGBA PNG by hand (Pillow cannot write 16-bit colour)."""
    h, w, c = array.shape
    color_type = {3: 2, 4: 6}[c]
    raw = b"".join(b"\x00" + array[i].astype(">u2").tobytes() for i in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", w, h, 16, color_type, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    return path


@pytest.fixture
def rgb() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (7, 9, 3), dtype=np.uint8)


def test_rgb_png_roundtrip_is_exact(tmp_path: Path, rgb: np.ndarray) -> None:
    Image.fromarray(rgb).save(tmp_path / "a.png")
    x = load_image(tmp_path / "a.png")
    assert x.shape == (3, 7, 9) and x.dtype == torch.float32
    np.testing.assert_array_equal(to_numpy_uint8(x), rgb)
    save_image(x, tmp_path / "b.png")
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "b.png")), rgb)


def test_grey_is_copied_to_three_channels(tmp_path: Path, rgb: np.ndarray) -> None:
    Image.fromarray(rgb[..., 0]).save(tmp_path / "g.png")
    x = load_image(tmp_path / "g.png")
    assert x.shape == (3, 7, 9)
    for c in range(3):
        np.testing.assert_array_equal((x[c] * 255).round().numpy().astype(np.uint8), rgb[..., 0])


def test_rgba_and_la_are_composited_on_white(tmp_path: Path, rgb: np.ndarray) -> None:
    alpha = np.random.default_rng(1).integers(0, 256, (7, 9), dtype=np.uint8)
    Image.fromarray(np.dstack([rgb, alpha])).save(tmp_path / "a.png")
    x = load_image(tmp_path / "a.png").double()
    a = alpha[None].astype(np.float64) / 255
    expected = rgb.transpose(2, 0, 1) / 255 * a + (1 - a)
    np.testing.assert_allclose(x.numpy(), expected, atol=1e-6)
    Image.fromarray(np.dstack([rgb[..., 0], alpha]), mode="LA").save(tmp_path / "la.png")
    y = load_image(tmp_path / "la.png").double()
    np.testing.assert_allclose(y[1].numpy(), rgb[..., 0] / 255 * a[0] + (1 - a[0]), atol=1e-6)


def test_16bit_grey_keeps_its_precision(tmp_path: Path) -> None:
    grey = np.random.default_rng(2).integers(0, 65536, (6, 5), dtype=np.uint16)
    Image.fromarray(grey).save(tmp_path / "g16.png")
    x = load_image(tmp_path / "g16.png").double()
    np.testing.assert_allclose(x[0].numpy(), grey / 65535, atol=1e-7)
    assert torch.equal(x[0], x[2])


def test_16bit_colour_is_read_at_8_bit_precision(tmp_path: Path) -> None:
    """Pillow decodes 16-bit colour PNGs to their high bytes: within one 8-bit level."""
    data = np.random.default_rng(3).integers(0, 65536, (6, 5, 3), dtype=np.uint16)
    x = load_image(_png16(data, tmp_path / "c16.png")).double()
    assert x.shape == (3, 6, 5)
    assert (x.numpy() - data.transpose(2, 0, 1) / 65535).__abs__().max() <= 1 / 255
    rgba = np.dstack([data, np.full((6, 5), 65535, np.uint16)])
    y = load_image(_png16(rgba, tmp_path / "c16a.png")).double()
    np.testing.assert_allclose(y.numpy(), x.numpy(), atol=1e-7)


def test_palette_with_and_without_transparency(tmp_path: Path, rgb: np.ndarray) -> None:
    pal = Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    pal.save(tmp_path / "p.png")
    expected = np.asarray(pal.convert("RGB")).transpose(2, 0, 1) / 255
    np.testing.assert_allclose(load_image(tmp_path / "p.png").double().numpy(), expected, atol=1e-6)
    pal.info["transparency"] = 0  # palette index 0 fully transparent → white
    pal.save(tmp_path / "pt.png", transparency=0)
    x = load_image(tmp_path / "pt.png")
    idx = np.asarray(pal)
    assert (idx == 0).any()
    assert torch.all(x[:, torch.from_numpy(idx == 0)] == 1)


def test_jpeg_cmyk_and_bilevel(tmp_path: Path, rgb: np.ndarray) -> None:
    Image.fromarray(rgb).save(tmp_path / "a.jpg", quality=95)
    assert load_image(tmp_path / "a.jpg").shape == (3, 7, 9)
    Image.fromarray(rgb).convert("CMYK").save(tmp_path / "c.jpg")
    assert load_image(tmp_path / "c.jpg").shape == (3, 7, 9)
    Image.fromarray(rgb[..., 0] > 128).save(tmp_path / "b.png")
    x = load_image(tmp_path / "b.png")
    assert set(torch.unique(x).tolist()) <= {0.0, 1.0}


def test_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="image not found: .*missing.png"):
        load_image(tmp_path / "missing.png")
    with pytest.raises(IsADirectoryError, match="got a folder"):
        load_image(tmp_path)
    bad = tmp_path / "corrupt.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really a png")
    with pytest.raises(ImageReadError, match="cannot read image .*corrupt.png"):
        load_image(bad)
    text = tmp_path / "notes.jpg"
    text.write_text("hello")
    with pytest.raises(ImageReadError, match="notes.jpg"):
        load_image(text)
    Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(tmp_path / "t.png")
    (tmp_path / "trunc.png").write_bytes((tmp_path / "t.png").read_bytes()[:60])
    with pytest.raises(ImageReadError, match="trunc.png"):
        load_image(tmp_path / "trunc.png")
