"""Images, datasets and MATLAB-style resizing."""

from .images import IMAGE_EXTENSIONS, ImageReadError, load_image, save_image, to_numpy_uint8, to_tensor
from .resize import cubic_kernel, imresize, resize_weights

__all__ = [
    "IMAGE_EXTENSIONS",
    "ImageReadError",
    "cubic_kernel",
    "imresize",
    "load_image",
    "resize_weights",
    "save_image",
    "to_numpy_uint8",
    "to_tensor",
]
