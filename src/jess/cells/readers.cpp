#include "jess/cells/readers.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <stdexcept>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "jess/cells/gzip.h"

namespace jess::cells {

namespace fs = std::filesystem;

namespace {

// A dense cells x genes matrix of doubles past this many entries (16 GiB) is refused with a message
// rather than left to fail inside the allocator.
constexpr int64_t kMaxDenseEntries = int64_t(1) << 31;

[[noreturn]] void fail(const std::string& message) { throw std::runtime_error(message); }

std::string at_line(const std::string& path, int64_t line) {
  return "'" + path + "' line " + std::to_string(line);
}

std::string shorten(std::string_view s, size_t max = 60) {
  return s.size() <= max ? std::string(s) : std::string(s.substr(0, max)) + "...";
}

std::string lowercase(std::string s) {
  for (auto& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool is_blank(std::string_view line) { return trim(line).empty(); }

// A number as written by R, pandas or a spreadsheet: decimal or scientific, optional '+', and NA /
// NaN / Inf. from_chars is locale-independent and several times faster than strtod.
bool parse_number(std::string_view s, double& out) {
  s = trim(s);
  if (s == "NA" || s == "NaN" || s == "nan" || s == "NAN") {
    out = std::nan("");
    return true;
  }
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  if (s.empty()) return false;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

bool is_number(std::string_view s) {
  double v;
  return parse_number(s, v);
}

// Splits text into lines (LF or CRLF) and counts them for messages.
class Lines {
 public:
  explicit Lines(std::string_view text) : text_(text) {
    if (text_.substr(0, 3) == "\xEF\xBB\xBF") text_.remove_prefix(3);  // UTF-8 byte-order mark
  }
  bool next(std::string_view& line) {
    if (pos_ >= text_.size()) return false;
    size_t end = text_.find('\n', pos_);
    if (end == std::string_view::npos) end = text_.size();
    line = text_.substr(pos_, end - pos_);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    pos_ = end + 1;
    ++number_;
    return true;
  }
  bool next_nonblank(std::string_view& line) {
    while (next(line))
      if (!is_blank(line)) return true;
    return false;
  }
  int64_t number() const { return number_; }

 private:
  std::string_view text_;
  size_t pos_ = 0;
  int64_t number_ = 0;
};

// Iterates the fields of one delimited line. Double-quoted fields may contain the delimiter and ""
// for a quote; unquoted fields are trimmed of spaces.
class Fields {
 public:
  Fields(std::string_view line, char delimiter, const std::string& path, int64_t line_number)
      : line_(line), delimiter_(delimiter), path_(path), line_number_(line_number) {}

  bool next(std::string_view& field) {
    if (done_) return false;
    size_t p = pos_;
    while (p < line_.size() && line_[p] == ' ') ++p;
    if (p < line_.size() && line_[p] == '"') {
      unquoted_.clear();
      ++p;
      for (;;) {
        if (p >= line_.size())
          fail(at_line(path_, line_number_) + ", field " + std::to_string(count_ + 1) + ": unterminated quote");
        if (line_[p] == '"') {
          if (p + 1 < line_.size() && line_[p + 1] == '"') {
            unquoted_ += '"';
            p += 2;
            continue;
          }
          ++p;
          break;
        }
        unquoted_ += line_[p++];
      }
      while (p < line_.size() && line_[p] == ' ') ++p;
      if (p < line_.size() && line_[p] != delimiter_)
        fail(at_line(path_, line_number_) + ", field " + std::to_string(count_ + 1) +
             ": text after the closing quote");
      field = unquoted_;
    } else {
      size_t end = line_.find(delimiter_, p);
      if (end == std::string_view::npos) end = line_.size();
      field = trim(line_.substr(p, end - p));
      p = end;
    }
    if (p >= line_.size())
      done_ = true;
    else
      pos_ = p + 1;
    ++count_;
    return true;
  }
  int64_t count() const { return count_; }

 private:
  std::string_view line_;
  char delimiter_;
  const std::string& path_;
  int64_t line_number_;
  size_t pos_ = 0;
  bool done_ = false;
  int64_t count_ = 0;
  std::string unquoted_;
};

std::vector<std::string> split_fields(std::string_view line, char delimiter, const std::string& path,
                                      int64_t line_number) {
  Fields fields(line, delimiter, path, line_number);
  std::vector<std::string> out;
  std::string_view f;
  while (fields.next(f)) out.emplace_back(f);
  return out;
}

char detect_delimiter(std::string_view first_line) {
  return first_line.find('\t') != std::string_view::npos ? '\t' : ',';
}

std::string existing(const fs::path& dir, std::initializer_list<std::string> names) {
  for (const auto& n : names) {
    const fs::path p = dir / n;
    if (fs::is_regular_file(p)) return p.string();
  }
  return "";
}

// The `file` of a data package, either directly in `dir` or in its `subdir` (data/, extdata/).
std::string package_file(const std::string& dir, const std::string& subdir, const std::string& file) {
  std::string p = existing(dir, {file});
  if (p.empty()) p = existing(fs::path(dir) / subdir, {file});
  if (p.empty()) fail("'" + dir + "' holds neither " + file + " nor " + subdir + "/" + file);
  return p;
}

void check_dense_size(int64_t rows, int64_t cols, const std::string& what) {
  if (rows > 0 && cols > kMaxDenseEntries / rows)
    fail(what + ": " + std::to_string(rows) + " x " + std::to_string(cols) +
         " is too large to hold as a dense matrix of doubles (" +
         std::to_string(double(rows) * double(cols) * 8 / double(1 << 30)) + " GiB); select cells or genes first");
}

// Appends `columns` (one value per annotation row) to data.annotations, taking for cell i the row
// `row_of_cell[i]`.
void append_annotations(CellData& data, std::vector<Annotation> columns, const std::vector<size_t>& row_of_cell) {
  for (auto& column : columns) {
    Annotation a;
    a.name = std::move(column.name);
    a.numeric = column.numeric;
    a.values.reserve(row_of_cell.size());
    for (size_t row : row_of_cell) {
      a.values.push_back(column.values[row]);
      if (a.numeric) a.numbers.push_back(column.numbers[row]);
    }
    data.annotations.push_back(std::move(a));
  }
}

// Which annotation row belongs to each cell: by name when both sides have names, else by order.
std::vector<size_t> match_rows(CellData& data, const std::vector<std::string>* row_names, size_t rows,
                               const std::string& what) {
  std::vector<size_t> order;
  const size_t cells = size_t(data.x.rows);
  if (!row_names || data.cells.empty()) {
    if (rows != cells)
      fail(what + " has " + std::to_string(rows) + " rows but the data has " + std::to_string(cells) +
           " cells (rows are matched by order" + (row_names ? ", as the data's cells have no names)" : ")"));
    for (size_t i = 0; i < rows; ++i) order.push_back(i);
    if (row_names && data.cells.empty()) data.cells = *row_names;
    return order;
  }
  std::unordered_map<std::string, size_t> row_of_name;
  row_of_name.reserve(rows);
  for (size_t r = 0; r < rows; ++r)
    if (!row_of_name.emplace((*row_names)[r], r).second)
      fail(what + " names the row '" + (*row_names)[r] + "' twice");
  std::vector<std::string> missing;
  for (const auto& cell : data.cells) {
    const auto it = row_of_name.find(cell);
    if (it == row_of_name.end())
      missing.push_back(cell);
    else
      order.push_back(it->second);
  }
  if (!missing.empty()) {
    std::string list;
    for (size_t i = 0; i < std::min<size_t>(missing.size(), 3); ++i) list += (i ? ", '" : "'") + missing[i] + "'";
    fail(what + " has no row for " + std::to_string(missing.size()) + " of the " + std::to_string(cells) +
         " cells (" + list + (missing.size() > 3 ? ", ..." : "") + "); its row names must match the cell names");
  }
  return order;
}

// Objects of an R file: an .rds holds one, named after the file.
std::map<std::string, RObject> read_r_objects(const std::string& path) {
  if (ends_with(lowercase(path), ".rds")) {
    std::map<std::string, RObject> one;
    one[fs::path(path).stem().string()] = read_rds(path);
    return one;
  }
  return read_rdata(path);
}

std::string list_objects(const std::map<std::string, RObject>& objects) {
  std::string out;
  for (const auto& [name, object] : objects) out += (out.empty() ? "" : "; ") + name + ": " + object.describe();
  return out.empty() ? "no objects" : out;
}

bool is_numeric_matrix(const RObject& o) {
  return o.dim().size() == 2 && (o.type == RType::Real || o.type == RType::Integer || o.type == RType::Logical);
}

bool is_r_file(const std::string& path) {
  const std::string lower = lowercase(path);
  return ends_with(lower, ".rda") || ends_with(lower, ".rdata") || ends_with(lower, ".rds");
}

CellData matrix_to_cells(RObject&& m, const std::string& what, bool cells_as_rows) {
  if (!is_numeric_matrix(m)) fail(what + " is not a numeric matrix but a " + m.describe());
  const auto dim = m.dim();
  const int64_t d0 = dim[0], d1 = dim[1];
  if (d0 < 0 || d1 < 0 || d0 * d1 != m.length())
    fail(what + ": its dim " + std::to_string(d0) + " x " + std::to_string(d1) + " does not match its " +
         std::to_string(m.length()) + " values");
  std::vector<std::string> row_names, column_names;
  if (const RObject* dimnames = m.attribute("dimnames")) {
    if (dimnames->type != RType::List || dimnames->items.size() != 2)
      fail(what + ": its dimnames are a " + dimnames->describe() + ", not a list of two");
    const RObject& r = dimnames->items[0];
    const RObject& c = dimnames->items[1];
    if (r.type == RType::String) row_names = r.strings;
    if (c.type == RType::String) column_names = c.strings;
    if ((!row_names.empty() && int64_t(row_names.size()) != d0) ||
        (!column_names.empty() && int64_t(column_names.size()) != d1))
      fail(what + ": its dimnames do not match its dim");
  }
  CellData data;
  if (m.type == RType::Real) {
    // R stores matrices column-major: a genes x cells matrix is, byte for byte, a row-major cells x
    // genes one - the layout we want, so the values move over without a copy.
    data.x.data = std::move(m.reals);
  } else {
    data.x.data.resize(m.ints.size());
    for (size_t i = 0; i < m.ints.size(); ++i)
      data.x.data[i] = m.ints[i] == RObject::kNaInteger ? std::nan("") : double(m.ints[i]);
    m.ints = {};
  }
  data.x.rows = d1;
  data.x.cols = d0;
  data.cells = std::move(column_names);
  data.features = std::move(row_names);
  if (cells_as_rows) {
    // The file is cells x genes: transpose the column-major storage into row-major.
    Matrix t(d0, d1);
    for (int64_t j = 0; j < d1; ++j) {
      const double* column = data.x.row(j);
      for (int64_t i = 0; i < d0; ++i) t(i, j) = column[i];
    }
    data.x = std::move(t);
    std::swap(data.cells, data.features);
  }
  return data;
}

// The one object of `objects` that `accept` takes; throws listing them otherwise.
std::string pick_object(const std::map<std::string, RObject>& objects, bool (*accept)(const RObject&),
                        const std::string& kind, const std::string& path) {
  std::vector<std::string> names;
  for (const auto& [name, object] : objects)
    if (accept(object)) names.push_back(name);
  if (names.size() == 1) return names[0];
  fail("'" + path + "' holds " + (names.empty() ? "no " + kind : std::to_string(names.size()) + " " + kind + "s") +
       "; expected exactly one (objects: " + list_objects(objects) + ")");
}

void attach_annotation_table(CellData& data, const std::string& path) {
  const std::string text = read_file_decompressed(path);
  Lines lines(text);
  std::string_view line;
  if (!lines.next_nonblank(line)) fail("'" + path + "' is empty");
  const char delimiter = detect_delimiter(line);
  const std::vector<std::string> header = split_fields(line, delimiter, path, lines.number());
  std::vector<std::vector<std::string>> rows;
  std::vector<int64_t> row_lines;
  while (lines.next_nonblank(line)) {
    rows.push_back(split_fields(line, delimiter, path, lines.number()));
    row_lines.push_back(lines.number());
  }
  if (rows.empty()) fail("'" + path + "' has a header but no rows");
  const size_t fields = rows[0].size();
  for (size_t r = 0; r < rows.size(); ++r)
    if (rows[r].size() != fields)
      fail(at_line(path, row_lines[r]) + " has " + std::to_string(rows[r].size()) + " fields where line " +
           std::to_string(row_lines[0]) + " has " + std::to_string(fields) + " (ragged row)");
  const bool short_header = header.size() + 1 == fields;
  if (!short_header && header.size() != fields)
    fail("'" + path + "': the header has " + std::to_string(header.size()) + " fields but the rows have " +
         std::to_string(fields));

  bool names_column = short_header || header[0].empty();
  if (!names_column && !data.cells.empty()) {
    std::unordered_map<std::string, int> first_column;
    for (const auto& row : rows) first_column.emplace(row[0], 0);
    names_column = std::all_of(data.cells.begin(), data.cells.end(),
                               [&](const std::string& c) { return first_column.count(c) > 0; });
  }
  std::vector<std::string> row_names;
  if (names_column)
    for (const auto& row : rows) row_names.push_back(row[0]);
  const std::vector<size_t> order =
      match_rows(data, names_column ? &row_names : nullptr, rows.size(), "'" + path + "'");

  std::vector<Annotation> columns;
  const size_t first = names_column ? 1 : 0;
  for (size_t c = first; c < fields; ++c) {
    Annotation a;
    a.name = short_header ? header[c - 1] : header[c];
    bool any_number = false, all_numbers = true;
    for (const auto& row : rows) {
      a.values.push_back(row[c]);
      double v = std::nan("");
      const bool missing = row[c].empty() || row[c] == "NA";
      if (!missing) {
        if (parse_number(row[c], v))
          any_number = true;
        else
          all_numbers = false;
      }
      a.numbers.push_back(v);
    }
    a.numeric = any_number && all_numbers;
    if (!a.numeric) a.numbers.clear();
    columns.push_back(std::move(a));
  }
  append_annotations(data, std::move(columns), order);
}

// Names from a 10x barcodes / features file: column `column` (0-based) of each tab-separated line, or
// the first column where a line has fewer.
std::vector<std::string> read_name_list(const std::string& path, size_t column) {
  const std::string text = read_file_decompressed(path);
  Lines lines(text);
  std::string_view line;
  std::vector<std::string> names;
  int64_t blank_line = 0;
  while (lines.next(line)) {
    if (is_blank(line)) {
      if (!blank_line) blank_line = lines.number();
      continue;
    }
    if (blank_line) fail(at_line(path, blank_line) + " is empty (one name per line expected)");
    const auto fields = split_fields(line, '\t', path, lines.number());
    names.push_back(fields.size() > column ? fields[column] : fields[0]);
  }
  return names;
}

// Reads a whitespace-separated integer / number token from [p, end); advances p.
bool next_token(const char*& p, const char* end, std::string_view& token) {
  while (p < end && (*p == ' ' || *p == '\t')) ++p;
  if (p >= end) return false;
  const char* start = p;
  while (p < end && *p != ' ' && *p != '\t') ++p;
  token = std::string_view(start, size_t(p - start));
  return true;
}

bool parse_index(std::string_view token, int64_t& out) {
  const auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), out);
  return ec == std::errc() && end == token.data() + token.size();
}

}  // namespace

// ---- R data ----------------------------------------------------------------------------------------

CellData r_matrix_to_cells(const RObject& matrix, const std::string& what, bool cells_as_rows) {
  return matrix_to_cells(RObject(matrix), what, cells_as_rows);
}

void attach_data_frame(CellData& data, const RObject& frame, const std::string& what) {
  std::vector<Annotation> columns = data_frame_annotations(frame, what);
  bool automatic = true;
  const std::vector<std::string> row_names = data_frame_row_names(frame, &automatic);
  const auto order = match_rows(data, automatic ? nullptr : &row_names, row_names.size(), what);
  append_annotations(data, std::move(columns), order);
}

CellData load_r_matrix(const std::string& expression_file, const std::string& annotation_file, bool cells_as_rows) {
  CellData data;
  {
    auto objects = read_r_objects(expression_file);
    const std::string name = pick_object(objects, is_numeric_matrix, "numeric matrix", expression_file);
    data = matrix_to_cells(std::move(objects[name]), "'" + expression_file + "' object " + name, cells_as_rows);
  }
  if (!annotation_file.empty()) attach_annotations(data, annotation_file);
  return data;
}

namespace {

// A named object of a package's data file (the name is part of the data set's definition).
RObject take_object(const std::string& path, const std::string& name) {
  auto objects = read_rdata(path);
  auto it = objects.find(name);
  if (it == objects.end()) fail("'" + path + "' holds no object '" + name + "' (objects: " + list_objects(objects) + ")");
  return std::move(it->second);
}

}  // namespace

CellData load_hsmm(const std::string& dir) {
  const std::string expression = package_file(dir, "data", "HSMM_expr_matrix.rda");
  const std::string sheet = package_file(dir, "data", "HSMM_sample_sheet.rda");
  CellData data = matrix_to_cells(take_object(expression, "HSMM_expr_matrix"),
                                  "'" + expression + "' object HSMM_expr_matrix", false);
  attach_data_frame(data, take_object(sheet, "HSMM_sample_sheet"), "'" + sheet + "' object HSMM_sample_sheet");
  return data;
}

CellData load_monocle_lung(const std::string& dir) {
  const std::string expression = package_file(dir, "extdata", "lung_exprs_data.RData");
  const std::string phenotype = package_file(dir, "extdata", "lung_phenotype_data.RData");
  CellData data = matrix_to_cells(take_object(expression, "lung_exprs_data"),
                                  "'" + expression + "' object lung_exprs_data", false);
  attach_data_frame(data, take_object(phenotype, "lung_phenotype_data"),
                    "'" + phenotype + "' object lung_phenotype_data");
  return data;
}

// ---- 10x / MatrixMarket ------------------------------------------------------------------------------

Matrix read_matrix_market(const std::string& path, bool transpose) {
  const std::string text = read_file_decompressed(path);
  Lines lines(text);
  std::string_view line;
  const std::string expected_header = "%%MatrixMarket matrix coordinate real|integer|pattern general";
  if (!lines.next(line) || lowercase(std::string(line.substr(0, 14))) != "%%matrixmarket")
    fail(at_line(path, 1) + ": expected the header '" + expected_header + "' but found '" + shorten(line) + "'");
  std::vector<std::string> words;
  {
    const char* p = line.data();
    std::string_view token;
    while (next_token(p, line.data() + line.size(), token)) words.push_back(lowercase(std::string(token)));
  }
  if (words.size() != 5 || words[1] != "matrix" || words[2] != "coordinate" ||
      (words[3] != "real" && words[3] != "integer" && words[3] != "pattern") || words[4] != "general")
    fail(at_line(path, 1) + ": unsupported MatrixMarket header '" + shorten(line, 100) + "' (expected '" +
         expected_header + "')");
  const bool pattern = words[3] == "pattern";

  // Comments, then the size line "rows columns entries".
  int64_t rows = -1, cols = -1, declared = -1;
  int64_t size_line = 0;
  while (lines.next(line)) {
    if (is_blank(line) || line[0] == '%') continue;
    size_line = lines.number();
    const char* p = line.data();
    const char* end = line.data() + line.size();
    std::string_view a, b, c, extra;
    if (!next_token(p, end, a) || !next_token(p, end, b) || !next_token(p, end, c) || next_token(p, end, extra) ||
        !parse_index(a, rows) || !parse_index(b, cols) || !parse_index(c, declared) || rows < 0 || cols < 0 ||
        declared < 0)
      fail(at_line(path, size_line) + ": expected the size line 'rows columns entries' but found '" +
           shorten(line) + "'");
    break;
  }
  if (size_line == 0) fail("'" + path + "' ends before its size line 'rows columns entries'");
  check_dense_size(rows, cols, "'" + path + "'");
  if (cols > 0 && declared > rows * cols)
    fail(at_line(path, size_line) + " declares " + std::to_string(declared) + " entries, more than the " +
         std::to_string(rows) + " x " + std::to_string(cols) + " matrix holds");

  Matrix m(transpose ? cols : rows, transpose ? rows : cols);
  int64_t entries = 0;
  while (lines.next(line)) {
    if (is_blank(line) || line[0] == '%') continue;
    const char* p = line.data();
    const char* end = line.data() + line.size();
    std::string_view ti, tj, tv, extra;
    int64_t i = 0, j = 0;
    double v = 1.0;
    const bool ok = next_token(p, end, ti) && next_token(p, end, tj) && parse_index(ti, i) && parse_index(tj, j) &&
                    (pattern || (next_token(p, end, tv) && parse_number(tv, v))) && !next_token(p, end, extra);
    if (!ok)
      fail(at_line(path, lines.number()) + ": expected '" + (pattern ? "row column" : "row column value") +
           "' but found '" + shorten(line) + "'");
    if (i < 1 || i > rows || j < 1 || j > cols)
      fail(at_line(path, lines.number()) + ": entry (" + std::to_string(i) + ", " + std::to_string(j) +
           ") is outside the " + std::to_string(rows) + " x " + std::to_string(cols) + " matrix (indices are 1-based)");
    if (++entries > declared)
      fail(at_line(path, lines.number()) + ": more entries than the " + std::to_string(declared) +
           " declared on line " + std::to_string(size_line));
    if (transpose)
      m(j - 1, i - 1) += v;
    else
      m(i - 1, j - 1) += v;
  }
  if (entries != declared)
    fail("'" + path + "' ends after " + std::to_string(entries) + " entries but line " + std::to_string(size_line) +
         " declares " + std::to_string(declared));
  return m;
}

CellData load_10x(const std::string& dir_or_mtx) {
  std::string mtx, barcodes, features;
  if (fs::is_directory(dir_or_mtx)) {
    const fs::path dir(dir_or_mtx);
    mtx = existing(dir, {"matrix.mtx", "matrix.mtx.gz"});
    barcodes = existing(dir, {"barcodes.tsv", "barcodes.tsv.gz"});
    features = existing(dir, {"features.tsv", "features.tsv.gz", "genes.tsv", "genes.tsv.gz"});
    std::string missing;
    if (mtx.empty()) missing += " matrix.mtx(.gz)";
    if (barcodes.empty()) missing += " barcodes.tsv(.gz)";
    if (features.empty()) missing += " features.tsv(.gz) or genes.tsv(.gz)";
    if (!missing.empty()) fail("'" + dir_or_mtx + "' is not a 10x folder: it lacks" + missing);
  } else {
    if (!fs::is_regular_file(dir_or_mtx)) fail("'" + dir_or_mtx + "' does not exist");
    mtx = dir_or_mtx;
    const fs::path dir = fs::path(mtx).parent_path();
    std::string name = fs::path(mtx).filename().string();
    std::string prefix;  // GEO names a sample's files GSM123_matrix.mtx.gz, GSM123_barcodes.tsv.gz, ...
    for (const char* suffix : {"matrix.mtx", "matrix.mtx.gz"})
      if (ends_with(name, suffix)) prefix = name.substr(0, name.size() - std::string_view(suffix).size());
    barcodes = existing(dir, {prefix + "barcodes.tsv", prefix + "barcodes.tsv.gz"});
    features = existing(dir, {prefix + "features.tsv", prefix + "features.tsv.gz", prefix + "genes.tsv",
                              prefix + "genes.tsv.gz"});
  }
  CellData data;
  data.x = read_matrix_market(mtx, /*transpose=*/true);  // 10x writes genes x cells
  if (!barcodes.empty()) {
    data.cells = read_name_list(barcodes, 0);
    if (int64_t(data.cells.size()) != data.x.rows)
      fail("'" + barcodes + "' names " + std::to_string(data.cells.size()) + " cells but '" + mtx + "' has " +
           std::to_string(data.x.rows) + " columns (cells)");
  }
  if (!features.empty()) {
    data.features = read_name_list(features, 1);  // gene id, gene name[, feature type]
    if (int64_t(data.features.size()) != data.x.cols)
      fail("'" + features + "' names " + std::to_string(data.features.size()) + " features but '" + mtx + "' has " +
           std::to_string(data.x.cols) + " rows (genes)");
  }
  return data;
}

// ---- dense tables ------------------------------------------------------------------------------------

CellData read_dense_table(const std::string& path, const LoadOptions& options) {
  const std::string text = read_file_decompressed(path);
  Lines lines(text);
  std::string_view first_line;
  if (!lines.next_nonblank(first_line)) fail("'" + path + "' is empty");
  const int64_t first_number = lines.number();
  const char delimiter = detect_delimiter(first_line);
  const std::vector<std::string> first = split_fields(first_line, delimiter, path, first_number);

  bool header = false;
  if (options.header) {
    header = *options.header;
  } else {
    for (size_t j = 1; j < first.size(); ++j) header |= !is_number(first[j]);
    if (first.size() == 1) header = !is_number(first[0]);
  }
  std::string_view data_line = first_line;
  int64_t data_number = first_number;
  if (header && !lines.next_nonblank(data_line)) fail("'" + path + "' has a header line but no data");
  if (header) data_number = lines.number();
  const std::vector<std::string> first_data = split_fields(data_line, delimiter, path, data_number);

  const bool row_names = options.row_names.value_or(
      !is_number(first_data[0]) || (header && (first[0].empty() || first.size() + 1 == first_data.size())));
  const size_t fields = first_data.size();
  const size_t cols = fields - (row_names ? 1 : 0);
  if (cols == 0) fail(at_line(path, data_number) + " has no numeric columns besides the row name");

  std::vector<std::string> column_names;
  if (header) {
    if (first.size() == fields)
      column_names.assign(first.begin() + (row_names ? 1 : 0), first.end());
    else if (row_names && first.size() == cols)
      column_names = first;  // R's write.table leaves out the corner field
    else
      fail(at_line(path, first_number) + " (the header) has " + std::to_string(first.size()) + " fields but line " +
           std::to_string(data_number) + " has " + std::to_string(fields));
  }

  std::vector<std::string> names;
  std::vector<double> values;
  int64_t rows = 0;
  auto read_row = [&](std::string_view line, int64_t number) {
    Fields f(line, delimiter, path, number);
    std::string_view field;
    size_t index = 0;
    while (f.next(field)) {
      if (index >= fields) {
        while (f.next(field)) {
        }
        break;
      }
      if (row_names && index == 0) {
        names.emplace_back(field);
      } else {
        double v;
        if (!parse_number(field, v))
          fail(at_line(path, number) + ", column " + std::to_string(index + 1) + ": '" + shorten(field) +
               "' is not a number");
        values.push_back(v);
      }
      ++index;
    }
    if (f.count() != int64_t(fields))
      fail(at_line(path, number) + " has " + std::to_string(f.count()) + " fields where line " +
           std::to_string(data_number) + " has " + std::to_string(fields) + " (ragged row)");
    ++rows;
  };
  read_row(data_line, data_number);
  std::string_view line;
  while (lines.next_nonblank(line)) read_row(line, lines.number());

  const bool named = header || row_names;
  const bool cells_as_rows = options.cells_as_rows.value_or(!named);
  CellData data;
  if (cells_as_rows) {
    data.x.rows = rows;
    data.x.cols = int64_t(cols);
    data.x.data = std::move(values);
    data.cells = std::move(names);
    data.features = std::move(column_names);
  } else {
    data.x = Matrix(int64_t(cols), rows);
    for (int64_t r = 0; r < rows; ++r)
      for (size_t c = 0; c < cols; ++c) data.x(int64_t(c), r) = values[size_t(r) * cols + c];
    data.cells = std::move(column_names);
    data.features = std::move(names);
  }
  return data;
}

void attach_annotations(CellData& data, const std::string& path) {
  if (!is_r_file(path)) return attach_annotation_table(data, path);
  auto objects = read_r_objects(path);
  const std::string name = pick_object(
      objects, [](const RObject& o) { return o.is_data_frame(); }, "data.frame", path);
  attach_data_frame(data, objects[name], "'" + path + "' object " + name);
}

// ---- dispatch ----------------------------------------------------------------------------------------

CellData load_cells(const std::string& path, const LoadOptions& options) {
  CellData data;
  if (fs::is_directory(path)) {
    const fs::path dir(path);
    if (!existing(dir, {"matrix.mtx", "matrix.mtx.gz"}).empty()) {
      data = load_10x(path);
    } else if (!existing(dir, {"HSMM_expr_matrix.rda"}).empty() ||
               !existing(dir / "data", {"HSMM_expr_matrix.rda"}).empty()) {
      data = load_hsmm(path);
    } else if (!existing(dir, {"lung_exprs_data.RData"}).empty() ||
               !existing(dir / "extdata", {"lung_exprs_data.RData"}).empty()) {
      data = load_monocle_lung(path);
    } else {
      fail("'" + path + "' is a folder with no single-cell data jess recognises: expected matrix.mtx(.gz) "
           "(10x), HSMM_expr_matrix.rda (HSMMSingleCell) or lung_exprs_data.RData (monocle)");
    }
  } else {
    if (!fs::exists(path)) fail("'" + path + "' does not exist");
    std::string lower = lowercase(fs::path(path).filename().string());
    if (ends_with(lower, ".gz")) lower.resize(lower.size() - 3);
    if (ends_with(lower, ".mtx")) {
      data = load_10x(path);
    } else if (ends_with(lower, ".csv") || ends_with(lower, ".tsv") || ends_with(lower, ".txt")) {
      data = read_dense_table(path, options);
    } else if (is_r_file(lower)) {
      return load_r_matrix(path, options.annotations, options.cells_as_rows.value_or(false));
    } else {
      fail("'" + path + "': unknown kind of file (expected .mtx, .csv, .tsv, .txt - optionally .gz - or .rda, "
           ".RData, .rds, or a folder)");
    }
  }
  if (!options.annotations.empty()) attach_annotations(data, options.annotations);
  return data;
}

}  // namespace jess::cells
