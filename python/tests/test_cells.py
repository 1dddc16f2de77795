"""jess.cells.read: the readers' values, names and annotations as tensors, without copying the matrix."""
import gzip

import pytest
import torch

import jess


def test_dense_table_with_names(tmp_path):
    p = tmp_path / "m.csv"
    p.write_text("gene,c1,c2,c3\ng1,1,2,3\ng2,4,5,6.5\n")
    d = jess.cells.read(str(p), cells_as_rows=False)
    assert d["cells"] == ["c1", "c2", "c3"] and d["features"] == ["g1", "g2"]
    torch.testing.assert_close(d["x"], torch.tensor([[1, 4], [2, 5], [3, 6.5]], dtype=torch.float64))
    assert d["x"].is_contiguous()
    d["x"][0, 0] = 7  # the tensor owns its buffer: writable, and freed with it
    assert d["x"][0, 0].item() == 7


def test_matrix_market_gzip(tmp_path):
    p = tmp_path / "matrix.mtx.gz"
    with gzip.open(p, "wt") as f:
        f.write("%%MatrixMarket matrix coordinate integer general\n3 2 3\n1 1 5\n3 1 2\n2 2 9\n")
    d = jess.cells.read(str(p))
    # 10x layout: genes x cells in the file, cells as rows here.
    torch.testing.assert_close(d["x"], torch.tensor([[5, 0, 2], [0, 9, 0]], dtype=torch.float64))


def test_bad_files_are_clear_errors(tmp_path):
    p = tmp_path / "ragged.csv"
    p.write_text("a,b\n1,2\n3\n")
    with pytest.raises(ValueError):
        jess.cells.read(str(p))
    with pytest.raises((ValueError, OSError)):
        jess.cells.read(str(tmp_path / "missing.rds"))
