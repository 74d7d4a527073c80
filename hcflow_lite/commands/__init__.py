"""Sub-commands of ``python -m hcflow_lite`` (one module each; see :mod:`hcflow_lite.cli`)."""
