"""Toy problems for Part I of the book: 2-D densities, a small 2-D flow, a training loop, digits.

* 2-D densities (chapters 1–2): :func:`two_moons`, :func:`ring_of_gaussians`,
  :func:`checkerboard`, each with a sampler and, where it exists in closed form, the exact
  log-density; :data:`TOY_DENSITIES` lists them by name.
* :class:`Flow2D` / :func:`build_flow_2d` (chapter 2): a RealNVP / Glow-style flow on
  :math:`\\mathbb R^2` built from the package's own layers (:mod:`hcflow_lite.flows`) acting on
  ``B×2×1×1`` tensors, with the change-of-variables log-density (chapter 1)

  .. math:: \\log p_X(x) = \\log\\mathcal N(f(x); 0, I) + \\log\\left|\\det J_f(x)\\right| .

* :func:`fit` (chapters 1–3): maximum likelihood with Adam, for any model with a loss.
* :func:`load_digits` (chapter 3): the 1,797 scikit-learn 8×8 digit images (grey levels 0–16),
  shipped inside scikit-learn, no download.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from .flows import (
    ActNorm,
    AdditiveCoupling,
    AffineCoupling,
    Flow,
    InvConv1x1,
    SequentialFlow,
    gaussian_log_prob,
    soft_clamp,
)

__all__ = [
    "Flow2D",
    "MLP",
    "TOY_DENSITIES",
    "ToyDensity",
    "build_flow_2d",
    "checkerboard",
    "checkerboard_log_prob",
    "density_grid",
    "fit",
    "load_digits",
    "mlp_subnet",
    "ring_of_gaussians",
    "ring_log_prob",
    "sample_toy",
    "swap_permutation",
    "two_moons",
]


# --------------------------------------------------------------------------- 2-D densities
def _rand(n: int, generator: torch.Generator | None) -> Tensor:
    return torch.rand(n, generator=generator)


def two_moons(n: int, noise: float = 0.05, generator: torch.Generator | None = None) -> Tensor:
    """``n×2`` points from two interleaving half circles with Gaussian noise of std ``noise``.

    The upper moon is :math:`(\\cos t, \\sin t)`, the lower one :math:`(1-\\cos t, \\tfrac12-\\sin t)`,
    :math:`t \\sim U(0, \\pi)` (the layout of scikit-learn's ``make_moons``), then shifted and
    scaled by 1.5 so that the data are centred with roughly unit spread.  Each point comes from
    either moon with probability ½.
    """
    t = _rand(n, generator) * math.pi
    upper = _rand(n, generator) < 0.5
    x = torch.where(upper, torch.cos(t), 1.0 - torch.cos(t))
    y = torch.where(upper, torch.sin(t), 0.5 - torch.sin(t))
    pts = torch.stack([x, y], 1) + noise * torch.randn(n, 2, generator=generator)
    return (pts - torch.tensor([0.5, 0.25])) * 1.5


def ring_of_gaussians(
    n: int, k: int = 8, radius: float = 2.0, std: float = 0.2, generator: torch.Generator | None = None
) -> Tensor:
    """``n×2`` points from an equal mixture of ``k`` Gaussians (std ``std``) on a circle."""
    comp = torch.randint(0, k, (n,), generator=generator)
    angle = 2 * math.pi * comp.float() / k
    centres = radius * torch.stack([torch.cos(angle), torch.sin(angle)], 1)
    return centres + std * torch.randn(n, 2, generator=generator)


def ring_log_prob(x: Tensor, k: int = 8, radius: float = 2.0, std: float = 0.2) -> Tensor:
    """Exact log-density of :func:`ring_of_gaussians`:
    :math:`\\log \\tfrac1k\\sum_j \\mathcal N(x; \\mu_j, \\sigma^2 I)`."""
    angle = 2 * math.pi * torch.arange(k, dtype=x.dtype) / k
    centres = radius * torch.stack([torch.cos(angle), torch.sin(angle)], 1)
    d2 = ((x[:, None, :] - centres[None]) ** 2).sum(-1)
    log_comp = -0.5 * d2 / std**2 - math.log(2 * math.pi * std**2)
    return torch.logsumexp(log_comp, 1) - math.log(k)


def checkerboard(n: int, generator: torch.Generator | None = None) -> Tensor:
    """``n×2`` points uniform on the 8 dark squares of a 4×4 checkerboard covering ``[-2, 2]²``.

    A square with corner :math:`(i, j) \\in \\{-2,-1,0,1\\}^2` is dark when :math:`i + j` is even.
    """
    x1 = _rand(n, generator) * 4 - 2
    x2_ = _rand(n, generator) - torch.randint(0, 2, (n,), generator=generator) * 2.0
    x2 = x2_ + torch.floor(x1) % 2
    return torch.stack([x1, x2], 1)


def checkerboard_log_prob(x: Tensor) -> Tensor:
    """Exact log-density of :func:`checkerboard`: :math:`\\log(1/8)` on the dark squares, −∞ elsewhere."""
    inside = (x.abs() < 2).all(1)
    dark = (torch.floor(x[:, 0]) + torch.floor(x[:, 1])) % 2 == 0
    out = torch.full((x.shape[0],), -math.inf, dtype=x.dtype)
    return out.masked_fill(inside & dark, -math.log(8.0))


@dataclass(frozen=True)
class ToyDensity:
    """A named 2-D density: a sampler, its exact log-density (``None`` if unknown), a plot box."""

    name: str
    sample: Callable[..., Tensor]
    log_prob: Callable[[Tensor], Tensor] | None
    bounds: tuple[float, float] = (-3.0, 3.0)


TOY_DENSITIES: dict[str, ToyDensity] = {
    "moons": ToyDensity("moons", two_moons, None, (-2.5, 2.5)),
    "ring": ToyDensity("ring", ring_of_gaussians, ring_log_prob, (-3.0, 3.0)),
    "checkerboard": ToyDensity("checkerboard", checkerboard, checkerboard_log_prob, (-2.5, 2.5)),
}


def sample_toy(name: str, n: int, generator: torch.Generator | None = None) -> Tensor:
    """``n`` samples of the toy density ``name`` (one of :data:`TOY_DENSITIES`)."""
    if name not in TOY_DENSITIES:
        raise ValueError(f"unknown toy density {name!r}; choose one of {sorted(TOY_DENSITIES)}")
    return TOY_DENSITIES[name].sample(n, generator=generator)


def density_grid(
    log_prob: Callable[[Tensor], Tensor], bounds: tuple[float, float] = (-3.0, 3.0), n: int = 200
) -> tuple[Tensor, Tensor, Tensor]:
    """Evaluate ``exp(log_prob)`` on an ``n×n`` grid over ``bounds²``: returns ``(xs, ys, density)``.

    ``density[i, j]`` is the density at ``(xs[j], ys[i])`` (rows are y, as ``imshow`` expects).
    """
    xs = torch.linspace(bounds[0], bounds[1], n)
    gy, gx = torch.meshgrid(xs, xs, indexing="ij")
    pts = torch.stack([gx.reshape(-1), gy.reshape(-1)], 1)
    with torch.no_grad():
        dens = torch.exp(log_prob(pts)).reshape(n, n)
    return xs, xs.clone(), dens


# --------------------------------------------------------------------------- a flow on R^2
class MLP(nn.Module):
    """An MLP on ``B×C×1×1`` tensors (flattened to ``B×C`` and back), the last layer zero-initialised."""

    def __init__(self, cin: int, cout: int, hidden: int = 64, depth: int = 2) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = cin
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        last = nn.Linear(width, cout)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        self.net = nn.Sequential(*layers, last)

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[2:] != (1, 1):
            raise ValueError(f"MLP expects B×C×1×1 tensors, got {tuple(x.shape)}")
        return self.net(x.flatten(1))[:, :, None, None]


def mlp_subnet(hidden: int = 64, depth: int = 2) -> Callable[[int, int], nn.Module]:
    """A coupling-network constructor ``subnet(cin, cout)`` for ``B×C×1×1`` tensors: an :class:`MLP`.

    ``depth`` hidden layers of width ``hidden`` with ReLU, then a zero-initialised output layer,
    so every coupling starts as the identity.
    """
    return lambda cin, cout: MLP(cin, cout, hidden, depth)


def swap_permutation(channels: int = 2) -> InvConv1x1:
    """A fixed channel reversal (RealNVP's alternating masks) as a frozen :class:`InvConv1x1`.

    :math:`W` is the anti-diagonal permutation matrix, :math:`|\\det W| = 1`, log-det 0.
    """
    layer = InvConv1x1(channels)
    with torch.no_grad():
        layer.weight.copy_(torch.eye(channels).flip(0))
    layer.weight.requires_grad_(False)
    return layer


class Flow2D(Flow):
    """A normalizing flow on :math:`\\mathbb R^2` with a standard-normal base distribution.

    Wraps a :class:`~hcflow_lite.flows.SequentialFlow` whose layers act on ``B×2×1×1``
    tensors; this class takes and returns ``B×2`` points.

    * ``forward(x) -> (z, logdet)``: data to latent, :math:`z = f(x)`;
    * ``inverse(z) -> x``;
    * ``log_prob(x)``: :math:`\\log\\mathcal N(f(x);0,I) + \\log|\\det J_f(x)|`;
    * ``sample(n, temperature)``: :math:`x = f^{-1}(\\tau\\varepsilon)`, :math:`\\varepsilon\\sim\\mathcal N(0,I)`.
    """

    def __init__(self, layers: Sequence[nn.Module]) -> None:
        super().__init__()
        self.flow = SequentialFlow(*layers)

    @staticmethod
    def _check(x: Tensor) -> None:
        if x.dim() != 2 or x.shape[1] != 2:
            raise ValueError(f"Flow2D expects points of shape B×2, got {tuple(x.shape)}")

    def forward(self, x: Tensor, cond: object = None) -> tuple[Tensor, Tensor]:
        self._check(x)
        z, logdet = self.flow(x[:, :, None, None])
        return z[:, :, 0, 0], logdet

    def inverse(self, z: Tensor, cond: object = None) -> Tensor:
        self._check(z)
        return self.flow.inverse(z[:, :, None, None])[:, :, 0, 0]

    def log_prob(self, x: Tensor) -> Tensor:
        z, logdet = self(x)
        return gaussian_log_prob(z) + logdet

    def intermediates(self, x: Tensor) -> list[Tensor]:
        """The points after each layer (the input first): how the flow moves the data."""
        self._check(x)
        h = x[:, :, None, None]
        out = [x]
        with torch.no_grad():
            for layer in self.flow:
                h, _ = layer(h)
                out.append(h[:, :, 0, 0])
        return out

    @torch.no_grad()
    def sample(self, n: int, temperature: float = 1.0, generator: torch.Generator | None = None) -> Tensor:
        ref = next(self.parameters())
        eps = torch.randn(n, 2, generator=generator).to(ref)
        return self.inverse(temperature * eps)


def build_flow_2d(
    steps: int = 8,
    hidden: int = 64,
    coupling: Literal["affine", "additive"] = "affine",
    permutation: Literal["swap", "invconv"] = "swap",
    actnorm: bool = True,
    clamp: Callable[[Tensor], Tensor] = soft_clamp,
) -> Flow2D:
    """A RealNVP (``coupling="affine"``) or NICE (``"additive"``) flow on :math:`\\mathbb R^2`.

    Each of the ``steps`` steps is ``[ActNorm] → permutation → coupling``: the permutation is a
    fixed swap of the two coordinates (RealNVP, :func:`swap_permutation`) or a learned
    invertible 1×1 convolution (Glow); the coupling network is :func:`mlp_subnet`.  ``clamp``
    maps the raw scale to the log-scale of the affine couplings (default: the official
    :func:`~hcflow_lite.flows.soft_clamp`, :math:`|\\log\\sigma| < 0.4995`).
    """
    if coupling not in ("affine", "additive"):
        raise ValueError(f"coupling must be 'affine' or 'additive', got {coupling!r}")
    if permutation not in ("swap", "invconv"):
        raise ValueError(f"permutation must be 'swap' or 'invconv', got {permutation!r}")
    subnet = mlp_subnet(hidden)
    layers: list[nn.Module] = []
    for _ in range(steps):
        if actnorm:
            layers.append(ActNorm(2))
        layers.append(swap_permutation(2) if permutation == "swap" else InvConv1x1(2))
        layers.append(AffineCoupling(2, subnet, clamp=clamp) if coupling == "affine" else AdditiveCoupling(2, subnet))
    return Flow2D(layers)


# --------------------------------------------------------------------------- training
def fit(
    model: nn.Module,
    data: Tensor | Callable[[int], Tensor],
    steps: int,
    batch_size: int = 256,
    learning_rate: float = 1e-3,
    loss_fn: Callable[[nn.Module, Tensor], Tensor] | None = None,
    generator: torch.Generator | None = None,
    cosine: bool = True,
    max_grad_norm: float | None = 100.0,
    log_every: int = 0,
    progress: bool = False,
) -> list[float]:
    """Maximum-likelihood training with Adam; returns the loss of every step.

    Args:
        model: the flow; the default loss is :math:`-\\tfrac1B\\sum_b \\log p(x_b)` via
            ``model.log_prob``.
        data: a tensor of training examples (mini-batches drawn at random, with replacement
            between steps; the whole tensor every step when ``batch_size`` covers it) or a
            sampler ``data(batch_size) -> Tensor``.
        steps: number of optimisation steps.
        loss_fn: ``loss_fn(model, batch) -> scalar`` replaces the default loss.
        generator: drives the mini-batch selection (reproducible runs).
        cosine: decay the learning rate along a half cosine to zero.
        max_grad_norm: clip the global gradient norm (``None``: no clipping).
        log_every: print the mean loss of the last ``log_every`` steps every ``log_every`` steps.
        progress: show a tqdm progress bar.

    Raises:
        FloatingPointError: when the loss becomes NaN or infinite (the step and a remedy are named).
    """
    if steps < 1:
        raise ValueError("steps must be ≥ 1")
    if loss_fn is None:

        def loss_fn(m: nn.Module, x: Tensor) -> Tensor:
            return -m.log_prob(x).mean()

    if isinstance(data, Tensor):
        tensor = data

        def draw(b: int) -> Tensor:
            if b >= tensor.shape[0]:  # full-batch gradient descent: the exact gradient every step
                return tensor
            idx = torch.randint(0, tensor.shape[0], (b,), generator=generator)
            return tensor[idx]

    else:
        draw = data
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=learning_rate)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps) if cosine else None
    model.train()
    losses: list[float] = []
    iterator: Sequence[int] | object = range(steps)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(range(steps), desc="training", leave=False)
        iterator = bar
    for step in iterator:  # type: ignore[union-attr]
        loss = loss_fn(model, draw(batch_size))
        if not torch.isfinite(loss):
            raise FloatingPointError(
                f"loss is {loss.item()} at step {step}: lower the learning rate (now {learning_rate:g}) "
                "or clip gradients harder"
            )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if max_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
        opt.step()
        if sched is not None:
            sched.step()
        losses.append(loss.item())
        if bar is not None and step % 20 == 0:
            bar.set_postfix(loss=f"{losses[-1]:.3f}")
        if log_every and (step + 1) % log_every == 0:
            recent = losses[-log_every:]
            print(f"step {step + 1:5d}/{steps}  loss {sum(recent) / len(recent):.4f}")
    model.eval()
    return losses


# --------------------------------------------------------------------------- digits
def load_digits() -> tuple[Tensor, Tensor]:
    """The 1,797 8×8 handwritten digits shipped with scikit-learn (UCI optical digits, test part).

    Returns ``(images, labels)``: ``images`` is an integer tensor ``1797×1×8×8`` with grey levels
    0–16 (17 levels), ``labels`` the digit of each image.  Nothing is downloaded: the data are
    part of the scikit-learn package.
    """
    try:
        from sklearn.datasets import load_digits as _load
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "the 8×8 digits come with scikit-learn: `pip install scikit-learn` (no download needed)"
        ) from err
    bunch = _load()
    images = torch.as_tensor(bunch.images, dtype=torch.int64)[:, None]
    labels = torch.as_tensor(bunch.target, dtype=torch.int64)
    return images, labels
