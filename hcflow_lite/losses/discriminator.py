"""The VGG-style discriminator of HCFlow++ (ESRGAN's ``discriminator_vgg_160``; spec §7.1).

Five stages, each a 3×3 convolution and a stride-2 4×4 convolution (the first convolution with a
bias and no normalisation, all others bias-free followed by BatchNorm), LeakyReLU(0.2) after
every layer; widths ``nf, 2nf, 4nf, 8nf, 8nf``; then two linear layers
``8nf·(P/32)² → 100 → 1`` (a logit).  For the paper's 160×160 patches and ``nf = 64`` the first
linear layer is ``512·5·5 → 100``.  Parameter names are the official ones (``conv0_0``,
``bn0_1``, …, ``linear1``, ``linear2``) so official discriminator weights load unchanged.
PyTorch's default initialisation, as in the official code.
"""

from __future__ import annotations

from torch import Tensor, nn

__all__ = ["DISCRIMINATORS", "DiscriminatorVGG", "build_discriminator"]


class DiscriminatorVGG(nn.Module):
    """VGG-style discriminator for square ``patch_size × patch_size`` inputs (``patch_size`` divisible by 32)."""

    def __init__(self, in_channels: int = 3, nf: int = 64, patch_size: int = 160) -> None:
        super().__init__()
        if patch_size % 32 or patch_size < 32:
            raise ValueError(f"the VGG discriminator needs a patch size divisible by 32, got {patch_size}")
        self.patch_size = patch_size
        widths = [nf, nf * 2, nf * 4, nf * 8, nf * 8]
        c = in_channels
        for stage, w in enumerate(widths):
            first = nn.Conv2d(c, w, 3, 1, 1, bias=stage == 0)
            setattr(self, f"conv{stage}_0", first)
            if stage > 0:
                setattr(self, f"bn{stage}_0", nn.BatchNorm2d(w, affine=True))
            setattr(self, f"conv{stage}_1", nn.Conv2d(w, w, 4, 2, 1, bias=False))
            setattr(self, f"bn{stage}_1", nn.BatchNorm2d(w, affine=True))
            c = w
        side = patch_size // 32
        self.linear1 = nn.Linear(c * side * side, 100)
        self.linear2 = nn.Linear(100, 1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        """``B×3×P×P`` image → ``B×1`` logits (real > 0)."""
        if x.dim() != 4 or x.shape[-2:] != (self.patch_size, self.patch_size):
            raise ValueError(
                f"discriminator_vgg_{self.patch_size} expects B×3×{self.patch_size}×{self.patch_size} patches, "
                f"got {tuple(x.shape)} (set losses.discriminator_patch to the training patch size)"
            )
        h = self.lrelu(self.conv0_0(x))
        h = self.lrelu(self.bn0_1(self.conv0_1(h)))
        for stage in range(1, 5):
            h = self.lrelu(getattr(self, f"bn{stage}_0")(getattr(self, f"conv{stage}_0")(h)))
            h = self.lrelu(getattr(self, f"bn{stage}_1")(getattr(self, f"conv{stage}_1")(h)))
        h = self.lrelu(self.linear1(h.flatten(1)))
        return self.linear2(h)


DISCRIMINATORS = {"discriminator_vgg_128": 128, "discriminator_vgg_160": 160}


def build_discriminator(name: str = "discriminator_vgg_160", nf: int = 64, patch_size: int | None = None) -> DiscriminatorVGG:
    """``discriminator_vgg_160`` (paper), ``discriminator_vgg_128``, or ``discriminator_vgg`` with any ``patch_size``."""
    if name in DISCRIMINATORS:
        size = DISCRIMINATORS[name]
        if patch_size is not None and patch_size != size:
            raise ValueError(f"{name} takes {size}×{size} patches, but the training patches are {patch_size}×{patch_size}")
        return DiscriminatorVGG(3, nf, size)
    if name == "discriminator_vgg":
        if patch_size is None:
            raise ValueError("discriminator_vgg needs the patch size")
        return DiscriminatorVGG(3, nf, patch_size)
    raise ValueError(f"unknown discriminator {name!r}; known: discriminator_vgg, {', '.join(DISCRIMINATORS)}")
