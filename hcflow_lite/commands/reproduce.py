"""Run a grid of the book's notebooks × parameters with papermill (``python -m hcflow_lite.reproduce``)."""

from ..reproduce import HELP, add_arguments, run
from ..reproduce import __doc__ as _doc

__doc__ = _doc
__all__ = ["HELP", "add_arguments", "run"]
