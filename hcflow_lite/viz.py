"""Figures for the book: image grids and training curves (matplotlib, imported lazily)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from torch import Tensor

__all__ = [
    "image_grid",
    "plot_curves",
    "plot_density_2d",
    "plot_image_grid",
    "plot_matrix",
    "plot_points_2d",
    "plot_training_logs",
    "show_images",
]


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


# --------------------------------------------------------------------------- Part I figures
def _axes(ax: Any, figsize: tuple[float, float] = (4.0, 4.0)):
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
        return fig, ax
    return ax.figure, ax


def plot_points_2d(
    points: Tensor,
    bounds: tuple[float, float] | None = (-3.0, 3.0),
    title: str | None = None,
    ax: Any = None,
    max_points: int = 5000,
    color: Any = "C0",
    size: float = 2.0,
):
    """Scatter plot of ``N×2`` points (at most ``max_points`` of them) with labelled axes.

    Returns the figure (the one of ``ax`` when given).
    """
    pts = points.detach().float().cpu()[:max_points]
    if pts.dim() != 2 or pts.shape[1] != 2:
        raise ValueError(f"expected N×2 points, got {tuple(points.shape)}")
    fig, ax = _axes(ax)
    ax.scatter(pts[:, 0].numpy(), pts[:, 1].numpy(), s=size, alpha=0.5, color=color, linewidths=0)
    if bounds is not None:
        ax.set_xlim(*bounds)
        ax.set_ylim(*bounds)
    ax.set_aspect("equal")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    if title:
        ax.set_title(title)
    return fig


def plot_density_2d(
    log_prob: Callable[[Tensor], Tensor],
    bounds: tuple[float, float] = (-3.0, 3.0),
    n: int = 200,
    title: str | None = None,
    ax: Any = None,
    cmap: str = "viridis",
    colorbar: bool = False,
):
    """Draw :math:`p(x) = \\exp(\\text{log\\_prob}(x))` on an ``n×n`` grid over ``bounds²``.

    ``log_prob`` maps ``N×2`` points to ``N`` log-densities.  Returns the figure.
    """
    from .toy import density_grid

    _, _, dens = density_grid(log_prob, bounds, n)
    dens = dens.float().cpu()
    fig, ax = _axes(ax)
    im = ax.imshow(dens.numpy(), origin="lower", extent=(bounds[0], bounds[1], bounds[0], bounds[1]), cmap=cmap)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    if title:
        ax.set_title(title)
    if colorbar:
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="density")
    return fig


def plot_matrix(
    matrix: Tensor,
    title: str | None = None,
    ax: Any = None,
    xlabel: str = "input index $j$",
    ylabel: str = "output index $i$",
    colorbar: bool = True,
):
    """Show a matrix (e.g. a Jacobian :math:`J_{ij} = \\partial y_i/\\partial x_j`) as an image.

    A diverging colour map centred on zero: exact zeros are white.  Returns the figure.
    """
    m = matrix.detach().double().cpu()
    if m.dim() != 2:
        raise ValueError(f"expected a matrix, got shape {tuple(matrix.shape)}")
    vmax = float(m.abs().max()) or 1.0
    fig, ax = _axes(ax)
    im = ax.imshow(m.numpy(), cmap="RdBu_r", vmin=-vmax, vmax=vmax, interpolation="nearest")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    if colorbar:
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    return fig


def image_grid(images: Tensor, nrow: int = 8, padding: int = 1, pad_value: float = 1.0) -> Tensor:
    """Tile ``N×C×H×W`` images into one ``C×H'×W'`` image, ``nrow`` images per row."""
    import torch

    if images.dim() != 4:
        raise ValueError(f"expected N×C×H×W images, got {tuple(images.shape)}")
    n, c, h, w = images.shape
    ncol = min(nrow, n)
    rows = (n + ncol - 1) // ncol
    grid = torch.full((c, rows * (h + padding) + padding, ncol * (w + padding) + padding), pad_value)
    for k in range(n):
        r, q = divmod(k, ncol)
        top, left = padding + r * (h + padding), padding + q * (w + padding)
        grid[:, top : top + h, left : left + w] = images[k].detach().float().cpu()
    return grid


def plot_image_grid(
    images: Tensor,
    nrow: int = 8,
    title: str | None = None,
    ax: Any = None,
    cmap: str = "gray_r",
    vmin: float = 0.0,
    vmax: float = 1.0,
    size: float = 4.0,
):
    """Show ``N×C×H×W`` images (values in ``[vmin, vmax]``) as one grid; grey images use ``cmap``.

    Returns the figure.
    """
    grid = image_grid(images.detach().float().cpu().clamp(vmin, vmax), nrow, pad_value=vmin)
    fig, ax = _axes(ax, (size, size * grid.shape[1] / grid.shape[2]))
    if grid.shape[0] == 1:
        ax.imshow(grid[0].numpy(), cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    else:
        ax.imshow(((grid - vmin) / (vmax - vmin)).permute(1, 2, 0).numpy(), interpolation="nearest")
    ax.axis("off")
    if title:
        ax.set_title(title)
    return fig


# --------------------------------------------------------------------------- Part II figures
def plot_training_logs(
    logs: dict[str, dict[str, Sequence[float]]],
    terms: dict[str, str],
    ncols: int = 3,
    size: tuple[float, float] = (4.0, 2.8),
    title: str | None = None,
):
    """One panel per logged term, one line per run: training curves of several runs side by side.

    Args:
        logs: run label → the columns of its log (:func:`hcflow_lite.train.read_log`; the
            ``iteration`` column is the x axis).
        terms: column → panel title, e.g. ``{"nll": "NLL (bits per pixel)", "pixel_hr": "L1"}``;
            a run without that column is simply absent from the panel.
        ncols: panels per row.

    Returns the figure.
    """
    import math

    import matplotlib.pyplot as plt

    n = len(terms)
    if n == 0:
        raise ValueError("give at least one term to plot")
    ncols = min(ncols, n)
    nrows = (n + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(size[0] * ncols, size[1] * nrows), squeeze=False)
    for ax, (column, label) in zip(axes.flat, terms.items()):
        for k, (run, log) in enumerate(logs.items()):
            if column in log and "iteration" in log:
                pts = [(x, y) for x, y in zip(log["iteration"], log[column]) if y is not None and math.isfinite(y)]
                if pts:
                    ax.plot(*zip(*pts), label=run, color=f"C{k}")
        ax.set_title(label, fontsize=10)
        ax.set_xlabel("iteration")
        ax.grid(alpha=0.3)
        if len(ax.get_lines()) > 1:
            ax.legend(fontsize=8)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
