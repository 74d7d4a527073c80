"""The temperature explorer of book chapter 13: what τ, per level, does to HCFlow's samples.

For an LR image :math:`y` an SR model draws :math:`n` samples with the latents
:math:`z_l = \\mu_l + \\sigma_l\\,\\tau_l\\,\\varepsilon_l` (one :math:`\\tau_l` per level, level 0
the finest) and shows

* the samples and their mean;
* the **diversity map**: the per-pixel standard deviation over the samples (0–255 scale,
  averaged over the colour channels); its mean is the paper's diversity;
* the **LR consistency** of each sample: PSNR between its MATLAB-bicubic ×1/s downscale and
  :math:`y` (a flow's samples should all explain the LR they came from);
* the PSNR to the HR image, when there is one.

:func:`explore` computes all of it (no widgets), :func:`temperature_grid` draws the static grid
over τ the rendered book shows, and :class:`TemperatureExplorer` wires :func:`explore` to
ipywidgets (global and per-level τ, seed, re-sample, the image, an upload) for Jupyter and
Colab.  Its :meth:`TemperatureExplorer.update` is what every control calls, so a test can drive
the explorer without a browser.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from .data import imresize, load_image
from .metrics import psnr
from .models import HCFlow

__all__ = ["ExplorerResult", "TemperatureExplorer", "explore", "std_map", "temperature_grid", "to_png"]


@dataclass
class ExplorerResult:
    """What :func:`explore` computed for one LR image."""

    samples: Tensor  #: n×3×H×W SR samples in [0, 1]
    mean: Tensor  #: 3×H×W mean of the samples
    std: Tensor  #: H×W per-pixel standard deviation over the samples, 0–255 scale, channel mean
    diversity: float  #: mean of ``std`` (the paper's diversity); 0 when n = 1
    lr_psnr: list[float]  #: per sample: PSNR(bicubic↓(sample), LR), 8-bit, no crop
    psnr: list[float] | None  #: per sample: PSNR to the HR (RGB, border = scale), if an HR was given
    temperature: list[float]  #: τ per level, level 0 first
    seed: int


def std_map(samples: Tensor) -> Tensor:
    """Per-pixel standard deviation (unbiased) over ``n×3×H×W`` samples, 0–255 scale, averaged over channels."""
    if samples.dim() != 4 or samples.shape[0] < 2:
        return samples.new_zeros(samples.shape[-2:])
    return (samples * 255.0).std(0, unbiased=True).mean(0)


@torch.no_grad()
def explore(
    model: HCFlow,
    lr: Tensor,
    temperature: float | Sequence[float],
    n: int = 4,
    seed: int = 0,
    hr: Tensor | None = None,
) -> ExplorerResult:
    """``n`` samples of ``model`` for the LR ``lr`` (3×h×w) at ``temperature`` (one τ or one per level)."""
    if model.config.task != "sr":
        raise ValueError("the temperature explorer is for SR models (a rescaling model upscales its own LR)")
    if lr.dim() != 3 or lr.shape[0] != 3:
        raise ValueError(f"expected an LR image 3×h×w, got {tuple(lr.shape)}")
    if n < 1:
        raise ValueError("n must be ≥ 1")
    L, s = model.config.L, model.scale
    taus = [float(temperature)] * L if isinstance(temperature, (int, float)) else [float(t) for t in temperature]
    if len(taus) != L:
        raise ValueError(f"give one τ or {L} (one per level, level 0 first), got {len(taus)}")
    model.eval()
    device = next(model.parameters()).device
    g = torch.Generator(device=device).manual_seed(int(seed))
    samples = model.sample(lr[None].to(device), n, taus, generator=g)[:, 0].cpu()
    down = imresize(torch.round(samples * 255) / 255, 1 / s, uint8=True)
    lr_psnr = [float(psnr(d, lr.cpu(), 0)) for d in down]
    ref = None
    if hr is not None:
        if tuple(hr.shape[-2:]) != tuple(samples.shape[-2:]):
            raise ValueError(f"HR {tuple(hr.shape[-2:])} does not match the SR size {tuple(samples.shape[-2:])}")
        ref = [float(psnr(x, hr.cpu(), s)) for x in samples]
    std = std_map(samples)
    return ExplorerResult(samples, samples.mean(0), std, float(std.mean()) if n > 1 else 0.0, lr_psnr, ref, taus, int(seed))


def to_png(image: Tensor, scale: int = 1, colormap: str | None = None, vmax: float | None = None) -> bytes:
    """PNG bytes of a 3×H×W image in [0, 1] (or an H×W map drawn with ``colormap`` up to ``vmax``), enlarged ``scale``× by nearest neighbour."""
    import numpy as np
    from PIL import Image

    if image.dim() == 2:
        import matplotlib

        top = float(vmax if vmax is not None else max(float(image.max()), 1e-6))
        rgb = matplotlib.colormaps[colormap or "magma"]((image / top).clamp(0, 1).numpy())[..., :3]
        arr = (rgb * 255).round().astype(np.uint8)
    else:
        arr = (image.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()
    im = Image.fromarray(arr)
    if scale > 1:
        im = im.resize((im.width * scale, im.height * scale), Image.NEAREST)
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def temperature_grid(
    model: HCFlow,
    lr: Tensor,
    temperatures: Sequence[float] = (0.0, 0.3, 0.6, 0.9, 1.2),
    n: int = 3,
    seed: int = 0,
    hr: Tensor | None = None,
    title: str | None = None,
):
    """A static figure over τ: per column one τ; rows: ``n`` samples, then the diversity map.

    Each column's caption gives the diversity and the mean LR consistency (and PSNR to the HR).
    Returns the matplotlib figure.
    """
    import matplotlib.pyplot as plt

    results = [explore(model, lr, t, n, seed, hr) for t in temperatures]
    vmax = max(max(float(r.std.max()) for r in results), 1e-6)
    fig, axes = plt.subplots(n + 1, len(temperatures), figsize=(2.3 * len(temperatures), 2.3 * (n + 1)), squeeze=False)
    for j, (t, r) in enumerate(zip(temperatures, results)):
        for i in range(n):
            axes[i, j].imshow(r.samples[i].permute(1, 2, 0).clamp(0, 1).numpy(), interpolation="nearest")
        im = axes[n, j].imshow(r.std.numpy(), cmap="magma", vmin=0, vmax=vmax, interpolation="nearest")
        caption = f"τ = {t:g}\ndiversity {r.diversity:.1f}\nLR-PSNR {sum(r.lr_psnr) / n:.1f} dB"
        if r.psnr is not None:
            caption += f"\nPSNR {sum(r.psnr) / n:.2f} dB"
        axes[0, j].set_title(caption, fontsize=9)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    for i in range(n):
        axes[i, 0].set_ylabel(f"sample {i + 1}", fontsize=9)
    axes[n, 0].set_ylabel("std over samples", fontsize=9)
    fig.colorbar(im, ax=axes[n, :].tolist(), fraction=0.02, pad=0.01, label="0–255")
    if title:
        fig.suptitle(title)
    return fig


class TemperatureExplorer:
    """Widgets around :func:`explore`: display :attr:`ui`; every control calls :meth:`update`.

    Args:
        model: an SR model.
        images: name → HR image (3×H×W; its LR is the 8-bit MATLAB-bicubic ×1/s, and PSNRs to it
            are shown).  Uploads are added to the list.
        n_samples: samples per update (the slider's start value).
        max_lr_size: uploads and images are centre-cropped so that the LR is at most this size
            (a CPU draws a few samples of a 64×64 LR in about a second).
        label: what the model is (shown above the results).
    """

    def __init__(
        self,
        model: HCFlow,
        images: Mapping[str, Tensor],
        n_samples: int = 4,
        seed: int = 0,
        temperature: float = 0.9,
        max_lr_size: int = 64,
        label: str = "",
    ) -> None:
        import ipywidgets as w

        if model.config.task != "sr":
            raise ValueError("the temperature explorer is for SR models")
        if not images:
            raise ValueError("give at least one image")
        self.model, self.scale, self.max_lr_size, self.label = model.eval(), model.scale, max_lr_size, label
        self.pairs: dict[str, tuple[Tensor, Tensor | None]] = {}
        for name, hr in images.items():
            self.add_image(name, hr)
        L = model.config.L
        self.result: ExplorerResult | None = None
        self.updates = 0
        slider = dict(min=0.0, max=1.5, step=0.05, continuous_update=False, readout_format=".2f")
        self.image = w.Dropdown(options=list(self.pairs), description="image")
        self.tau = w.FloatSlider(value=temperature, description="τ (all levels)", **slider)
        self.per_level = w.Checkbox(value=False, description="per-level τ")
        names = {0: "finest", L - 1: "coarsest"}
        self.level_taus = [w.FloatSlider(value=temperature, description=f"τ{l} ({names.get(l, 'middle')})", disabled=True,
                                         **slider) for l in range(L)]  # noqa: E741
        self.n_samples = w.IntSlider(value=n_samples, min=1, max=8, description="samples", continuous_update=False)
        self.seed = w.IntText(value=seed, description="seed")
        # (no Font Awesome icons: the book's static pages serve no icon fonts)
        self.resample = w.Button(description="re-sample ↻", tooltip="next seed, new samples")
        self.upload = w.FileUpload(accept="image/*", multiple=False, description="upload", icon="")
        self.upload_as = w.ToggleButtons(options=[("it is the HR", "hr"), ("it is the LR", "lr")], value="hr",
                                         description="upload:")
        self.status = w.HTML()
        self.stats = w.HTML()
        self.lr_view = w.Image(format="png")
        self.sample_views = w.HBox()
        self.mean_view = w.Image(format="png")
        self.std_view = w.Image(format="png")

        for control in (self.image, self.tau, self.n_samples, self.seed, *self.level_taus):
            control.observe(self._changed, names="value")
        self.per_level.observe(self._toggle_levels, names="value")
        self.resample.on_click(lambda _b: self.next_sample())
        self.upload.observe(self._uploaded, names="value")

        def titled(title: str, view: Any) -> Any:
            return w.VBox([w.HTML(f"<b>{title}</b>"), view])

        self.ui = w.VBox([
            w.HTML(f"<b>Temperature explorer</b> — {label}" if label else "<b>Temperature explorer</b>"),
            w.HBox([self.image, self.upload, self.upload_as]),
            w.HBox([self.tau, self.per_level]),
            w.HBox(self.level_taus),
            w.HBox([self.n_samples, self.seed, self.resample]),
            self.status,
            w.HBox([titled("LR (input)", self.lr_view), titled("mean of the samples", self.mean_view),
                    titled("diversity map", self.std_view)]),
            titled("samples", self.sample_views),
            self.stats,
        ])
        self.update()

    # ------------------------------------------------------------------ images
    def _fit(self, image: Tensor, is_lr: bool) -> Tensor:
        """Centre-crop so that the LR is at most ``max_lr_size`` and the HR a multiple of the scale."""
        unit = 1 if is_lr else self.scale
        limit = self.max_lr_size * unit
        h, w = image.shape[-2:]
        ch, cw = min(h, limit) // unit * unit, min(w, limit) // unit * unit
        if ch < unit or cw < unit:
            raise ValueError(f"image {h}×{w} is too small for ×{self.scale}")
        top, left = (h - ch) // 2, (w - cw) // 2
        return image[:, top : top + ch, left : left + cw].contiguous()

    def add_image(self, name: str, image: Tensor, is_lr: bool = False) -> str:
        """Add an HR image (its LR is made by bicubic downscaling) or an LR image; returns its name."""
        if image.dim() != 3 or image.shape[0] != 3:
            raise ValueError(f"expected a 3×H×W RGB image, got {tuple(image.shape)}")
        image = self._fit(image.float().clamp(0, 1), is_lr)
        if is_lr:
            self.pairs[name] = (torch.round(image * 255) / 255, None)
        else:
            self.pairs[name] = (imresize(image[None], 1 / self.scale, uint8=True)[0], image)
        if hasattr(self, "image"):
            self.image.options = list(self.pairs)
        return name

    def _uploaded(self, change: Mapping[str, Any]) -> None:
        files = change["new"]
        if not files:
            return
        if isinstance(files, Mapping):  # ipywidgets 7 (Colab): {name: {"metadata": …, "content": bytes}}
            name, entry = next(iter(files.items()))
        else:  # ipywidgets 8: ({"name": …, "content": memoryview, …},)
            entry = files[0]
            name = entry.get("name", "upload")
        try:
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / (Path(name).name or "upload")
                path.write_bytes(bytes(entry["content"]))
                image = load_image(path)
            key = self.add_image(f"upload: {name}", image, is_lr=self.upload_as.value == "lr")
        except (OSError, ValueError) as e:
            self.status.value = f"<span style='color:#b00'>could not use {name}: {e}</span>"
            return
        self.status.value = ""
        self.image.value = key  # triggers update()

    # ------------------------------------------------------------------ controls
    def temperatures(self) -> list[float]:
        """τ per level (level 0 first), from the controls."""
        if self.per_level.value:
            return [s.value for s in self.level_taus]
        return [self.tau.value] * len(self.level_taus)

    def _toggle_levels(self, change: Mapping[str, Any]) -> None:
        for s in self.level_taus:
            s.disabled = not change["new"]
            if not change["new"]:
                s.value = self.tau.value
        self.update()

    def _changed(self, _change: Mapping[str, Any]) -> None:
        self.update()

    def next_sample(self) -> None:
        """The re-sample button: the next seed, new samples."""
        self.seed.value = int(self.seed.value) + 1  # observed: calls update()

    # ------------------------------------------------------------------ the work
    def update(self) -> ExplorerResult:
        """Draw the samples for the current controls and refresh every view; returns the result."""
        lr, hr = self.pairs[self.image.value]
        try:
            r = explore(self.model, lr, self.temperatures(), int(self.n_samples.value), int(self.seed.value), hr)
        except (ValueError, RuntimeError) as e:
            self.status.value = f"<span style='color:#b00'>{e}</span>"
            raise
        self.result = r
        self.updates += 1
        s = self.scale
        self.lr_view.value = to_png(lr, s)
        self.mean_view.value = to_png(r.mean)
        self.std_view.value = to_png(r.std, vmax=max(float(r.std.max()), 1.0))
        import ipywidgets as w

        self.sample_views.children = [w.Image(value=to_png(x), format="png") for x in r.samples[:4]]
        taus = ", ".join(f"{t:g}" for t in r.temperature)
        rows = [f"τ per level (finest first): {taus}; seed {r.seed}; {len(r.samples)} samples",
                f"diversity (mean of the map): <b>{r.diversity:.2f}</b> (0–255; map maximum {float(r.std.max()):.1f})",
                "LR consistency, PSNR(bicubic↓(sample), LR): " + ", ".join(f"{v:.1f}" for v in r.lr_psnr) + " dB"]
        if r.psnr is not None:
            rows.append("PSNR to the HR (RGB, border cropped): " + ", ".join(f"{v:.2f}" for v in r.psnr) + " dB")
        self.stats.value = "<br>".join(rows)
        return r
