"""Figures for the book: image grids and training curves (matplotlib, imported lazily)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import Tensor

__all__ = ["show_images", "plot_curves"]


def _as_hwc(image: Tensor) -> Any:
    img = image.detach().float().cpu()
    if img.dim() == 4:
        if img.shape[0] != 1:
            raise ValueError("pass one image at a time (3×H×W)")
        img = img[0]
    if img.shape[0] == 1:
        img = img.expand(3, -1, -1)
    return img.clamp(0, 1).permute(1, 2, 0).numpy()


def show_images(
    images: Sequence[Tensor],
    titles: Sequence[str] | None = None,
    ncols: int | None = None,
    size: float = 3.0,
    nearest: bool = True,
    suptitle: str | None = None,
):
    """Show ``3×H×W`` images side by side (LR images are drawn with nearest-neighbour pixels).

    Returns the matplotlib figure.
    """
    import matplotlib.pyplot as plt

    n = len(images)
    ncols = ncols or n
    nrows = (n + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(_as_hwc(images[i]), interpolation="nearest" if nearest else "bilinear")
            if titles is not None:
                ax.set_title(titles[i], fontsize=10)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def plot_curves(
    curves: dict[str, Sequence[float]],
    x: Sequence[float] | None = None,
    xlabel: str = "iteration",
    ylabel: str = "",
    title: str | None = None,
    logy: bool = False,
):
    """Plot one or more named curves on shared axes; returns the figure."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for name, ys in curves.items():
        xs = list(x) if x is not None else list(range(len(ys)))
        ax.plot(xs[: len(ys)], list(ys), label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    if title:
        ax.set_title(title)
    if len(curves) > 1:
        ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


