#pragma once
// Readers that turn single-cell expression data on disk into a CellData (cells as rows):
//   - R data (.rda / .RData / .rds; see rdata.h): a numeric matrix, plus a data.frame of per-cell
//     annotations; the Bioconductor HSMM myoblast and monocle lung data sets by name;
//   - 10x Genomics MatrixMarket folders (matrix.mtx + features.tsv / genes.tsv + barcodes.tsv, each
//     optionally gzipped);
//   - dense CSV / TSV count tables (optionally gzipped), with a per-cell annotation table beside them.
// load_cells() picks the reader from what a path is; it is what the CLI calls.
//
// Orientation. R / Bioconductor / Seurat store expression as genes x cells, and so do 10x files;
// jess wants cells x genes, so those are transposed on reading. For a dense table the default is
// decided by its names: a table with a header row or a first column of names is taken as Seurat-style
// genes x cells (header = cell names), a purely numeric table without names as cells x features (the
// machine-learning convention, e.g. the DTAE reference's X.csv). LoadOptions::cells_as_rows overrides
// both.
//
// Every error is a std::runtime_error naming the file (and the line and column for text formats).
// Light header: no torch.
#include <optional>
#include <string>

#include "jess/cells/matrix.h"
#include "jess/cells/rdata.h"

namespace jess::cells {

struct LoadOptions {
  // true: one cell per row in the file; false: one gene per row. Unset: see the orientation note above.
  std::optional<bool> cells_as_rows;
  // Dense tables: whether the first line holds column names / the first column row names (unset:
  // detected - a header is a first line with a non-numeric field after the first; row names are a
  // non-numeric first field in the first data line, an empty corner field, or a header one field short).
  std::optional<bool> header;
  std::optional<bool> row_names;
  // Optional per-cell annotations to attach: an .rda / .RData / .rds holding one data.frame, or a
  // CSV / TSV table (see attach_annotations).
  std::string annotations;
};

// Reads whatever `path` is: a folder with matrix.mtx(.gz) (10x), the HSMMSingleCell package folder (or
// its data/ folder), the monocle package folder (or its extdata/ folder), or a file ending in
// .mtx, .csv, .tsv, .txt (each optionally .gz), .rda, .RData or .rds. Then attaches
// options.annotations if given.
CellData load_cells(const std::string& path, const LoadOptions& options = {});

// ---- R data ----------------------------------------------------------------------------------------

// HSMM (Trapnell et al. 2014; Bioconductor HSMMSingleCell): 271 cells x 47,192 genes (FPKM; feature
// names are the Ensembl gene ids), annotated with every column of HSMM_sample_sheet (Library, Well,
// Hours, Media, Mapped.Fragments, Pseudotime, State). `dir` is the package folder or its data/ folder.
CellData load_hsmm(const std::string& dir);
// monocle's lung data (Treutlein et al. 2014): 185 cells x 218 genes, annotated with the 28 columns of
// lung_phenotype_data (age, Time, Pseudotime, State, ...). `dir` is the package folder or extdata/.
CellData load_monocle_lung(const std::string& dir);
// The one numeric matrix in an .rda / .RData / .rds file (genes x cells unless cells_as_rows), named by
// its dimnames, with the one data.frame of `annotation_file` (if given) matched to the cells by row
// name. Throws listing the file's objects when it holds no matrix or several.
CellData load_r_matrix(const std::string& expression_file, const std::string& annotation_file = "",
                       bool cells_as_rows = false);
// A numeric (double, integer or logical) R matrix as CellData; `what` names it in messages.
CellData r_matrix_to_cells(const RObject& matrix, const std::string& what, bool cells_as_rows = false);
// Appends a data.frame's columns as annotations, matching its row names to data.cells (data.cells is
// filled from them when empty; automatic row names 1..n match by row order). Throws when a cell has no
// row or the row count differs.
void attach_data_frame(CellData& data, const RObject& frame, const std::string& what);

// ---- 10x / MatrixMarket ------------------------------------------------------------------------------

// A MatrixMarket "coordinate" file (real, integer or pattern; general) as a dense matrix, transposed
// when asked (10x files are genes x cells). Duplicate entries are summed.
Matrix read_matrix_market(const std::string& path, bool transpose = false);
// A 10x folder (matrix.mtx, barcodes.tsv, features.tsv or genes.tsv, each optionally .gz), or the path
// of its .mtx(.gz) - then the name files may carry the same prefix (GSM123_matrix.mtx.gz beside
// GSM123_barcodes.tsv.gz) and are optional. Feature names are the gene names (second column of
// features.tsv) where present, else the ids.
CellData load_10x(const std::string& dir_or_mtx);

// ---- dense tables ------------------------------------------------------------------------------------

// A dense CSV / TSV (delimiter detected from the first line: tab if it has one, else comma; fields may
// be double-quoted) of numbers; NA / NaN read as NaN. Errors give the line and column of a ragged row
// or a non-numeric value.
CellData read_dense_table(const std::string& path, const LoadOptions& options = {});
// Appends per-cell annotations: an R data file's one data.frame (.rda / .RData / .rds) or a CSV / TSV
// with a header row. In a table, the first column names the cells when its header field is empty, when
// the header is one field short (R's write.table), or when it contains every cell name of `data`;
// then rows are matched by name (extra rows are ignored, a missing cell is an error). Otherwise rows
// are taken in order and their number must equal the number of cells. A column is numeric when every
// non-missing value ("" and NA are missing) is a number.
void attach_annotations(CellData& data, const std::string& path);

}  // namespace jess::cells
