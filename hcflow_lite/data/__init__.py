"""Images, datasets and MATLAB-style resizing (book chapter 7).

* :func:`imresize`: MATLAB's bicubic ``imresize`` (antialiased), batched, CPU/GPU.
* :func:`load_image` / :func:`save_image`: any PNG/JPEG/… as a ``3×H×W`` float tensor in [0, 1].
* :class:`PairedDataset`: HR (+ LR) folders, whole images or aligned random crops with flips.
* :func:`get_dataset` / :func:`benchmark_dataset`: DIV2K, Flickr2K, CelebA, Set5, Set14, BSD100,
  Urban100 by name, in their usual layouts, with clear errors saying how to get them.
* :func:`sample_set`: a small offline training/validation set made from package images.
"""

from .datasets import PairedDataset, match_lr_files
from .folders import DatasetNotFoundError, EmptyDatasetError, default_data_root, list_images
from .images import IMAGE_EXTENSIONS, ImageReadError, load_image, save_image, to_numpy_uint8, to_tensor
from .registry import BENCHMARKS, DATASETS, DatasetLayout, benchmark_dataset, get_dataset, resolve_dataset_dirs
from .resize import cubic_kernel, imresize, resize_weights
from .sample import SAMPLE_SET_VERSION, sample_set
from .transforms import aligned_crop_box, apply_augment, augment_pair, draw_augment, mod_crop

__all__ = [
    "BENCHMARKS",
    "DATASETS",
    "DatasetLayout",
    "DatasetNotFoundError",
    "EmptyDatasetError",
    "IMAGE_EXTENSIONS",
    "ImageReadError",
    "PairedDataset",
    "SAMPLE_SET_VERSION",
    "aligned_crop_box",
    "apply_augment",
    "augment_pair",
    "benchmark_dataset",
    "cubic_kernel",
    "default_data_root",
    "draw_augment",
    "get_dataset",
    "imresize",
    "list_images",
    "load_image",
    "match_lr_files",
    "mod_crop",
    "resize_weights",
    "resolve_dataset_dirs",
    "sample_set",
    "save_image",
    "to_numpy_uint8",
    "to_tensor",
]
