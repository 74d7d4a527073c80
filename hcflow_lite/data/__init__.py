"""Images, datasets and MATLAB-style resizing."""

from .resize import cubic_kernel, imresize, resize_weights

__all__ = ["cubic_kernel", "imresize", "resize_weights"]
