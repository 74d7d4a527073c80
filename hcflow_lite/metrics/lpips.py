"""LPIPS (Zhang et al. 2018) through the ``lpips`` package, AlexNet trunk, as the paper (spec §9).

.. math:: d(a, b) = \\sum_l \\frac{1}{H_l W_l} \\sum_{h,w} \\big\\| w_l \\odot (\\hat f^l_{hw}(a) - \\hat f^l_{hw}(b)) \\big\\|_2^2

with :math:`\\hat f^l` the unit-normalised AlexNet features of layer :math:`l` and :math:`w_l`
the learned linear heads; images in [0, 1] are mapped to [−1, 1], and the SR image is used as
a float (not rounded), as ``test_HCFlow.py`` does.

The ``lpips`` wheel ships only the small heads; the ImageNet AlexNet trunk
(``alexnet-owt-7be5be79.pth``, 233 MB) is downloaded by torchvision on first use into
``$TORCH_HOME/hub/checkpoints/``.  Offline, that download fails, and a randomly initialised
trunk would give meaningless numbers, so :class:`LPIPS` refuses to run without the real
file: it raises :class:`LPIPSUnavailableError` saying where to put it.  By default it also
checks that the file's SHA-256 starts with the hash in its name (torchvision's convention),
so a stand-in file is never mistaken for the ImageNet weights.
"""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import torch
from torch import Tensor, nn

__all__ = ["BACKBONE_FILES", "LPIPS", "LPIPSUnavailableError", "backbone_path", "lpips_distance"]

BACKBONE_FILES = {
    "alex": "alexnet-owt-7be5be79.pth",
    "vgg": "vgg16-397923af.pth",
    "squeeze": "squeezenet1_1-b8a52dc0.pth",
}
_VERIFIED: dict[tuple[str, int, float], bool] = {}


class LPIPSUnavailableError(RuntimeError):
    """LPIPS cannot be computed here (package missing, or the ImageNet backbone weights absent)."""


def backbone_path(net: str = "alex") -> Path:
    """Where torchvision keeps (and ``lpips`` loads) the ImageNet weights of ``net``'s trunk."""
    if net not in BACKBONE_FILES:
        raise ValueError(f"net must be one of {sorted(BACKBONE_FILES)}, got {net!r}")
    return Path(torch.hub.get_dir()) / "checkpoints" / BACKBONE_FILES[net]


def _hash_matches(path: Path) -> bool:
    """SHA-256 of the file starts with the 8 hex digits in its name (cached per size/mtime)."""
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime)
    if key not in _VERIFIED:
        expected = path.stem.rsplit("-", 1)[-1]
        h = hashlib.sha256()
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        _VERIFIED[key] = h.hexdigest().startswith(expected)
    return _VERIFIED[key]


def _missing_message(net: str, path: Path) -> str:
    return (
        f"LPIPS ({net}) needs the ImageNet weights of its trunk, {path.name}, in {path.parent} "
        f"(torch hub cache; set TORCH_HOME to move it). They are not there, and hcflow_lite does not "
        f"report LPIPS with a random trunk. Get the file on a machine with internet access (e.g. run "
        f"`import lpips; lpips.LPIPS(net='{net}')` on Colab, which saves it to "
        f"~/.cache/torch/hub/checkpoints/{path.name}) and copy it to {path}; or allow the download "
        f"(LPIPS(..., allow_download=True), `--lpips yes` on the command line)."
    )


class LPIPS(nn.Module):
    """The LPIPS distance (``lpips.LPIPS(net='alex')``), refusing to run without the real trunk.

    Args:
        net: ``"alex"`` (the paper's), ``"vgg"`` or ``"squeeze"``.
        device: where to run it.
        allow_download: let torchvision download the trunk when it is not in the cache
            (network access; a failure becomes :class:`LPIPSUnavailableError`).
        verify: check the cached trunk file's SHA-256 against the hash in its name.

    Raises:
        LPIPSUnavailableError: ``lpips``/``torchvision`` are not installed, the weights are
            missing (and not downloadable), or the file is not the ImageNet checkpoint.
    """

    def __init__(
        self, net: str = "alex", device: str | torch.device = "cpu", allow_download: bool = False, verify: bool = True
    ) -> None:
        super().__init__()
        path = backbone_path(net)
        if not path.is_file() and not allow_download:
            raise LPIPSUnavailableError(_missing_message(net, path))
        if path.is_file() and verify and not _hash_matches(path):
            raise LPIPSUnavailableError(
                f"{path} is not the ImageNet {net} checkpoint (its SHA-256 does not start with "
                f"{path.stem.rsplit('-', 1)[-1]}); replace it with the file torchvision downloads"
            )
        try:
            import lpips
        except ImportError as e:
            raise LPIPSUnavailableError(
                f"LPIPS needs the packages `lpips` and `torchvision` ({type(e).__name__}: {e}); "
                "install them with `pip install lpips torchvision` matching your torch build"
            ) from e
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # torchvision's "pretrained is deprecated"
                self.model = lpips.LPIPS(net=net, verbose=False)
        except OSError as e:  # URLError (offline) is an OSError
            raise LPIPSUnavailableError(f"{_missing_message(net, path)} (download failed: {e})") from e
        if path.is_file() and verify and not _hash_matches(path):  # just downloaded
            raise LPIPSUnavailableError(f"the downloaded {path} does not match its SHA-256 prefix")
        self.net = net
        self.model.eval().requires_grad_(False)
        self.to(device)

    @torch.no_grad()
    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        """Distances between ``B×3×H×W`` (or ``3×H×W``) images in [0, 1]: shape ``(B,)``."""
        if a.shape != b.shape:
            raise ValueError(f"images differ in shape: {tuple(a.shape)} vs {tuple(b.shape)}")
        if a.dim() == 3:
            a, b = a[None], b[None]
        if a.dim() != 4 or a.shape[1] != 3:
            raise ValueError(f"expected B×3×H×W images in [0, 1], got {tuple(a.shape)}")
        dev = next(self.model.parameters()).device
        d = self.model(a.float().to(dev) * 2 - 1, b.float().to(dev) * 2 - 1)
        return d.flatten().to(torch.float64).cpu()


_INSTANCES: dict[tuple[str, str], LPIPS] = {}


def lpips_distance(a: Tensor, b: Tensor, net: str = "alex", device: str | torch.device | None = None) -> float | Tensor:
    """LPIPS between ``3×H×W`` images in [0, 1] (a float; ``B×3×H×W``: a ``(B,)`` tensor).

    Builds (once per ``net``/device) an :class:`LPIPS` module; raises
    :class:`LPIPSUnavailableError` when the ImageNet trunk is not available offline.
    """
    dev = str(device if device is not None else a.device)
    key = (net, dev)
    if key not in _INSTANCES:
        _INSTANCES[key] = LPIPS(net, dev)
    d = _INSTANCES[key](a, b)
    return float(d[0]) if a.dim() == 3 else d
