#pragma once
// A reader for R's serialisation format (the .rda / .RData files of save() and the .rds files of
// saveRDS()), written from the format description in R's serialize.c so that jess can load the
// Bioconductor single-cell data sets without R. It covers the data R packages ship: atomic vectors
// (logical, integer, double, character), lists, pairlists, symbols and attributes - which is what
// matrices, factors and data.frames are made of - and the ALTREP forms R >= 3.5 writes for them
// (compact integer / real sequences, wrapped vectors, deferred strings). Closures, environments, S4
// objects, bytecode and the like are refused with an error naming the type code and where it occurred.
//
// Light header: no torch.
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "jess/cells/matrix.h"

namespace jess::cells {

// R's SEXP type codes as they appear in the serialised stream.
enum class RType : int {
  Nil = 0,        // NULL (NILVALUE_SXP, 254) and the singletons globalenv(), emptyenv(), baseenv(),
                  // the base namespace, R_MissingArg and R_UnboundValue (RObject::special says which)
  Symbol = 1,     // name in strings[0]
  Pairlist = 2,   // items + tags
  Language = 6,   // a call; serialised exactly like a pairlist
  Char = 9,       // a single CHARSXP; strings[0], string_na[0]
  Logical = 10,   // ints: 0, 1 or NA_INTEGER
  Integer = 13,   // ints
  Real = 14,      // reals (NA_real_ is a NaN)
  String = 16,    // strings + string_na
  List = 19,      // items (VECSXP)
};

struct RAttribute;

// One decoded R value. Only the fields of its type are filled.
struct RObject {
  static constexpr int32_t kNaInteger = INT32_MIN;  // R's NA_integer_ and NA (logical)

  RType type = RType::Nil;
  int special = 0;                   // for Nil: the serialised code (254 NULL, 242 emptyenv(), ...)
  std::vector<int32_t> ints;         // Logical, Integer
  std::vector<double> reals;         // Real
  std::vector<std::string> strings;  // String, Char, Symbol
  std::vector<uint8_t> string_na;    // String, Char: 1 where the element is NA_character_
  std::vector<RObject> items;        // List elements; Pairlist / Language CARs
  std::vector<std::string> tags;     // Pairlist / Language: one per item ("" where untagged)
  std::vector<RAttribute> attributes;

  int64_t length() const;
  // The attribute called `name`, or nullptr.
  const RObject* attribute(const std::string& name) const;
  // Whether the "class" attribute contains `cls` (like R's inherits()).
  bool inherits(const std::string& cls) const;
  bool is_factor() const { return type == RType::Integer && inherits("factor"); }
  bool is_data_frame() const { return type == RType::List && inherits("data.frame"); }
  // The "dim" attribute (empty when there is none).
  std::vector<int64_t> dim() const;
  // A short description for messages, e.g. "double matrix 47192 x 271" or "data.frame (271 rows, 7 columns)".
  std::string describe() const;
};

struct RAttribute {
  std::string name;
  RObject value;
};

// The readable name of a serialised SEXP type code ("REALSXP", "CLOSXP", ...; "type N" if unknown).
std::string r_type_name(int code);

// Reads a .rda / .RData file (gzip-compressed or not): the objects it holds, by name. Throws
// std::runtime_error naming the file and what was expected when it is not an R data file (or uses
// bzip2 / xz compression or the ascii / native-binary formats), is truncated or malformed, or holds a
// type this reader does not cover.
std::map<std::string, RObject> read_rdata(const std::string& path);
// Reads a .rds file (one object).
RObject read_rds(const std::string& path);
// The same from bytes in memory (gzip-compressed or not); `source` names them in messages.
std::map<std::string, RObject> parse_rdata(std::string_view bytes, const std::string& source);
RObject parse_rds(std::string_view bytes, const std::string& source);

// A data.frame's row names. R stores automatic row names compactly as the integer vector c(NA, -n)
// (or c(NA, n)); those come back as "1".."n" with `automatic` set.
std::vector<std::string> data_frame_row_names(const RObject& frame, bool* automatic = nullptr);
// The number of rows of a data.frame (from its row names).
int64_t data_frame_rows(const RObject& frame);
// Every column of a data.frame as an annotation: factors decoded to their level text, integer and
// double columns numeric (NA -> NaN; text as R would print it), logical columns as "TRUE" / "FALSE",
// character columns as text; NA values read "NA". `what` names the frame in messages. Throws
// std::runtime_error for a column of another kind (a list or matrix column).
std::vector<Annotation> data_frame_annotations(const RObject& frame, const std::string& what);

}  // namespace jess::cells
