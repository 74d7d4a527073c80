"""Non-invertible sub-networks: coupling networks, feature extractors, the zero conv."""

from .dense import RRDB, DenseBlock, ResidualDenseBlock
from .fcn import FCN, ConvActNorm
from .zero_conv import ZeroConv2d

__all__ = ["FCN", "ConvActNorm", "DenseBlock", "RRDB", "ResidualDenseBlock", "ZeroConv2d"]
