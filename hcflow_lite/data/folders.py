"""Image folders on disk: where datasets live, listing them, and the errors users see.

Every dataset helper of :mod:`hcflow_lite.data` resolves its folders through
:func:`default_data_root` (``$HCFLOW_DATA``, else ``~/.cache/hcflow_lite/data``) and lists
images with :func:`list_images`, so a missing or empty folder always produces the same kind of
message: which folder, what was found instead, and how to get the data.
"""

from __future__ import annotations

import os
from pathlib import Path

from .images import IMAGE_EXTENSIONS

__all__ = ["DatasetNotFoundError", "EmptyDatasetError", "default_data_root", "list_images"]


class DatasetNotFoundError(FileNotFoundError):
    """A dataset folder does not exist (the message says where to get the data)."""


class EmptyDatasetError(DatasetNotFoundError):
    """A dataset folder exists but holds no images."""


def default_data_root() -> Path:
    """Where datasets are looked for and downloaded to: ``$HCFLOW_DATA`` or ``~/.cache/hcflow_lite/data``."""
    env = os.environ.get("HCFLOW_DATA")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "hcflow_lite" / "data"


def list_images(folder: str | Path, what: str = "images", hint: str = "") -> list[Path]:
    """The image files directly inside ``folder``, sorted by name.

    Args:
        folder: the folder to list (not recursive; hidden files are skipped).
        what: how the folder is called in error messages (``"HR images"``).
        hint: appended to error messages, e.g. how to download the data.

    Raises:
        DatasetNotFoundError: the folder does not exist or is a file.
        EmptyDatasetError: it holds no file with one of :data:`IMAGE_EXTENSIONS`.
    """
    folder = Path(folder).expanduser()
    tail = f" {hint}" if hint else ""
    if not folder.exists():
        raise DatasetNotFoundError(f"folder of {what} not found: {folder}.{tail}")
    if not folder.is_dir():
        raise DatasetNotFoundError(f"expected a folder of {what}, got a file: {folder}.{tail}")
    entries = [p for p in folder.iterdir() if not p.name.startswith(".")]
    images = sorted(p for p in entries if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
    if not images:
        subdirs = sorted(p.name for p in entries if p.is_dir())
        others = sorted(p.name for p in entries if p.is_file())
        found = []
        if subdirs:
            found.append(f"sub-folders {', '.join(subdirs[:5])}{' …' if len(subdirs) > 5 else ''}")
        if others:
            found.append(f"{len(others)} other file(s), e.g. {others[0]}")
        found_text = "; it contains " + " and ".join(found) if found else "; it is empty"
        raise EmptyDatasetError(
            f"no {what} in {folder} (looked for {', '.join(IMAGE_EXTENSIONS)}){found_text}.{tail}"
        )
    return images
