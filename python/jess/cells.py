"""Single-cell readers: R data (.rda/.RData/.rds, RDX2/RDX3, gzip), 10x MatrixMarket, dense CSV/TSV."""
from typing import Dict, Optional

from . import _jess


def read(path: str, cells_as_rows: Optional[bool] = None, header: Optional[bool] = None,
         row_names: Optional[bool] = None, annotations: str = "") -> Dict[str, object]:
    """Reads a cells x features matrix as jess cells does.

    Returns {"x": float64 tensor (cells, features) that owns jess's buffer (no copy), "cells": names,
    "features": names, "annotations": {name: float64 tensor (numeric) or list of str}}.
    """
    return _jess.cells_read(path, cells_as_rows, header, row_names, annotations)
