"""Loss weights of the paper's recipes (spec §7.1, §7.2).

=============  ======  =========  ==========  =====  ========  ======
recipe         nll     pixel_hr   perceptual  gan    pixel_lr  latent
=============  ======  =========  ==========  =====  ========  ======
HCFlow         1       0          0           0      –         –
HCFlow+        2e-3    1          0           0      –         –
HCFlow++       2e-3    1          5e-2        5e-1   –         –
rescaling      –       1          0           0      5e-2      1e-5
=============  ======  =========  ==========  =====  ========  ======

(The same weights hold for general SR ×4 and face SR ×8.)
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LossWeights", "PAPER_LOSS_WEIGHTS"]


@dataclass(frozen=True)
class LossWeights:
    """Weights λ of the loss terms; a zero weight removes the term (and, for SR, its optimiser step)."""

    nll: float = 1.0
    pixel_hr: float = 0.0
    perceptual: float = 0.0
    gan: float = 0.0
    pixel_lr: float = 0.0
    latent: float = 0.0


PAPER_LOSS_WEIGHTS: dict[str, LossWeights] = {
    "hcflow": LossWeights(nll=1.0),
    "hcflow+": LossWeights(nll=2e-3, pixel_hr=1.0),
    "hcflow++": LossWeights(nll=2e-3, pixel_hr=1.0, perceptual=5e-2, gan=5e-1),
    "rescaling": LossWeights(nll=0.0, pixel_hr=1.0, pixel_lr=5e-2, latent=1e-5),
}
