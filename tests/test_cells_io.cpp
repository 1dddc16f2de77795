// cells package: readers (R serialisation, HSMM and monocle lung data, 10x MatrixMarket, CSV / TSV).
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include "jess/cells/readers.h"

using namespace jess::cells;
namespace fs = std::filesystem;

namespace {

// ---- helpers -----------------------------------------------------------------------------------

std::string gzip(const std::string& raw) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&z, uLong(raw.size())) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw.data()));
  z.avail_in = uInt(raw.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = uInt(out.size());
  EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

// A fresh folder under the system temp dir, removed with the object.
struct TempDir {
  fs::path path;
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path = fs::temp_directory_path() /
           ("jess_cells_io_" + std::to_string(::getpid()) + "_" + info->test_suite_name() + "_" + info->name());
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string write(const std::string& name, const std::string& bytes) const {
    const fs::path p = path / name;
    std::ofstream(p, std::ios::binary) << bytes;
    return p.string();
  }
};

// The message of the std::runtime_error `f` throws ("" and a test failure if it throws none).
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a std::runtime_error";
  return "";
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

std::map<std::string, int> value_counts(const Annotation& a) {
  std::map<std::string, int> counts;
  for (const auto& v : a.values) ++counts[v];
  return counts;
}

// Writes R's XDR serialisation by hand: big-endian int32 / double, flags words, CHARSXPs.
struct Xdr {
  std::string bytes;
  static constexpr int kObject = 1 << 8, kAttr = 1 << 9, kTag = 1 << 10;

  void i32(int32_t v) {
    const uint32_t u = uint32_t(v);
    for (int s = 24; s >= 0; s -= 8) bytes += char((u >> s) & 0xFF);
  }
  void f64(double v) {
    uint64_t u;
    std::memcpy(&u, &v, 8);
    for (int s = 56; s >= 0; s -= 8) bytes += char((u >> s) & 0xFF);
  }
  void charsxp(const std::string& s) {
    i32(0x00040009);  // CHARSXP with R's "ASCII" level bit, as R writes it
    i32(int32_t(s.size()));
    bytes += s;
  }
  void na_string() {
    i32(9);
    i32(-1);
  }
  void symbol(const std::string& name) {
    i32(1);
    charsxp(name);
  }
  void ref(int index) { i32((index << 8) | 255); }
  void tagged_cell() { i32(2 | kTag); }
  void nil() { i32(254); }
  void strings(std::initializer_list<const char*> values, int flags = 0) {
    i32(16 | flags);
    i32(int32_t(values.size()));
    for (const char* v : values) v ? charsxp(v) : na_string();
  }
};

// R's NA_real_: a NaN whose low word is 1954.
double r_na_real() {
  const uint64_t u = 0x7FF00000000007A2ull;
  double d;
  std::memcpy(&d, &u, 8);
  return d;
}

// A tiny .RData equivalent to R's
//   counts <- c(1L, NA, 7L); values <- c(a = 1.5, NA, c = -2.25) (with names c("a", NA, "c"));
//   groups <- factor(c("hi", "lo", "hi", NA), levels = c("lo", "hi")); flags <- c(TRUE, FALSE, NA);
//   frame <- data.frame(n = c(10L, 20L), label = c("x", "y"));
//   m <- matrix(1:6 + 0.5, 2, dimnames = list(c("g1", "g2"), c("c1", "c2", "c3")))
// Symbols enter the reference table in order of first appearance: counts 1, values 2, names 3,
// groups 4, levels 5, class 6, flags 7, frame 8, row.names 9, m 10, dim 11, dimnames 12.
std::string tiny_rdata() {
  Xdr x;
  x.bytes = "RDX3\nX\n";
  x.i32(3);           // serialisation version
  x.i32(0x00040201);  // written by R 4.2.1
  x.i32(0x00030500);  // readable from R 3.5.0
  x.i32(5);
  x.bytes += "UTF-8";

  x.tagged_cell();
  x.symbol("counts");
  x.i32(13);
  x.i32(3);
  x.i32(1);
  x.i32(INT32_MIN);
  x.i32(7);

  x.tagged_cell();
  x.symbol("values");
  x.i32(14 | Xdr::kAttr);
  x.i32(3);
  x.f64(1.5);
  x.f64(r_na_real());
  x.f64(-2.25);
  x.tagged_cell();  // attributes: names
  x.symbol("names");
  x.strings({"a", nullptr, "c"});
  x.nil();

  x.tagged_cell();
  x.symbol("groups");
  x.i32(13 | Xdr::kObject | Xdr::kAttr);
  x.i32(4);
  x.i32(2);
  x.i32(1);
  x.i32(2);
  x.i32(INT32_MIN);
  x.tagged_cell();
  x.symbol("levels");
  x.strings({"lo", "hi"});
  x.tagged_cell();
  x.symbol("class");
  x.strings({"factor"});
  x.nil();

  x.tagged_cell();
  x.symbol("flags");
  x.i32(10);
  x.i32(3);
  x.i32(1);
  x.i32(0);
  x.i32(INT32_MIN);

  x.tagged_cell();
  x.symbol("frame");
  x.i32(19 | Xdr::kObject | Xdr::kAttr);
  x.i32(2);
  x.i32(13);
  x.i32(2);
  x.i32(10);
  x.i32(20);
  x.strings({"x", "y"});
  x.tagged_cell();
  x.ref(3);  // names
  x.strings({"n", "label"});
  x.tagged_cell();
  x.symbol("row.names");
  x.i32(13);  // compact automatic row names c(NA, -2)
  x.i32(2);
  x.i32(INT32_MIN);
  x.i32(-2);
  x.tagged_cell();
  x.ref(6);  // class
  x.strings({"data.frame"});
  x.nil();

  x.tagged_cell();
  x.symbol("m");
  x.i32(14 | Xdr::kAttr);
  x.i32(6);
  for (int i = 1; i <= 6; ++i) x.f64(i + 0.5);
  x.tagged_cell();
  x.symbol("dim");
  x.i32(13);
  x.i32(2);
  x.i32(2);
  x.i32(3);
  x.tagged_cell();
  x.symbol("dimnames");
  x.i32(19);
  x.i32(2);
  x.strings({"g1", "g2"});
  x.strings({"c1", "c2", "c3"});
  x.nil();

  x.nil();  // end of the saved objects
  return x.bytes;
}

std::string data_dir() { return std::string(JESS_SOURCE_DIR) + "/data/cells"; }

}  // namespace

// ---- R serialisation ---------------------------------------------------------------------------

TEST(RData, DecodesHandBuiltStreamWithNAsFactorRefsAndAttributes) {
  const TempDir dir;
  const std::string path = dir.write("tiny.RData", gzip(tiny_rdata()));
  const auto objects = read_rdata(path);
  ASSERT_EQ(objects.size(), 6u);

  const RObject& counts = objects.at("counts");
  EXPECT_EQ(counts.type, RType::Integer);
  EXPECT_EQ(counts.ints, (std::vector<int32_t>{1, RObject::kNaInteger, 7}));

  const RObject& values = objects.at("values");
  ASSERT_EQ(values.type, RType::Real);
  ASSERT_EQ(values.reals.size(), 3u);
  EXPECT_EQ(values.reals[0], 1.5);
  EXPECT_TRUE(std::isnan(values.reals[1]));
  EXPECT_EQ(values.reals[2], -2.25);
  const RObject* names = values.attribute("names");
  ASSERT_NE(names, nullptr);
  EXPECT_EQ(names->strings[0], "a");
  EXPECT_EQ(names->string_na, (std::vector<uint8_t>{0, 1, 0}));
  EXPECT_EQ(names->strings[2], "c");

  const RObject& groups = objects.at("groups");
  EXPECT_TRUE(groups.is_factor());
  EXPECT_EQ(groups.attribute("levels")->strings, (std::vector<std::string>{"lo", "hi"}));
  EXPECT_EQ(groups.ints, (std::vector<int32_t>{2, 1, 2, RObject::kNaInteger}));

  EXPECT_EQ(objects.at("flags").type, RType::Logical);
  EXPECT_EQ(objects.at("flags").ints, (std::vector<int32_t>{1, 0, RObject::kNaInteger}));

  // The data.frame's "names" and "class" tags were back-references (REFSXP) to earlier symbols.
  const RObject& frame = objects.at("frame");
  ASSERT_TRUE(frame.is_data_frame());
  EXPECT_EQ(frame.attribute("names")->strings, (std::vector<std::string>{"n", "label"}));
  bool automatic = false;
  EXPECT_EQ(data_frame_row_names(frame, &automatic), (std::vector<std::string>{"1", "2"}));
  EXPECT_TRUE(automatic);
  const auto columns = data_frame_annotations(frame, "frame");
  ASSERT_EQ(columns.size(), 2u);
  EXPECT_TRUE(columns[0].numeric);
  EXPECT_EQ(columns[0].numbers, (std::vector<double>{10, 20}));
  EXPECT_FALSE(columns[1].numeric);
  EXPECT_EQ(columns[1].values, (std::vector<std::string>{"x", "y"}));

  // The genes x cells matrix becomes cells x genes: x(cell c2, gene g1) = m["g1", "c2"] = 3.5.
  const CellData cells = r_matrix_to_cells(objects.at("m"), "m");
  EXPECT_EQ(cells.x.rows, 3);
  EXPECT_EQ(cells.x.cols, 2);
  EXPECT_EQ(cells.x(1, 0), 3.5);
  EXPECT_EQ(cells.x(2, 1), 6.5);
  EXPECT_EQ(cells.cells, (std::vector<std::string>{"c1", "c2", "c3"}));
  EXPECT_EQ(cells.features, (std::vector<std::string>{"g1", "g2"}));
  const CellData as_rows = r_matrix_to_cells(objects.at("m"), "m", /*cells_as_rows=*/true);
  EXPECT_EQ(as_rows.x.rows, 2);
  EXPECT_EQ(as_rows.x(0, 1), 3.5);  // m["g1", "c2"] with g1, g2 taken as the cells
  EXPECT_EQ(as_rows.cells, (std::vector<std::string>{"g1", "g2"}));

  // Reading the same bytes uncompressed gives the same objects.
  EXPECT_EQ(parse_rdata(tiny_rdata(), "tiny").at("counts").ints, counts.ints);
}

TEST(RData, EveryTruncationThrowsInsteadOfCrashing) {
  const std::string full = tiny_rdata();
  ASSERT_NO_THROW(parse_rdata(full, "tiny"));
  for (size_t n = 0; n < full.size(); ++n)
    EXPECT_THROW(parse_rdata(std::string_view(full).substr(0, n), "tiny"), std::runtime_error) << "prefix " << n;
  const std::string compressed = gzip(full);
  for (size_t n = 2; n < compressed.size(); ++n)
    EXPECT_THROW(parse_rdata(std::string_view(compressed).substr(0, n), "tiny.gz"), std::runtime_error)
        << "gzip prefix " << n;
}

TEST(RData, MalformedInputsGiveClearErrors) {
  // A closure (CLOSXP, 3) where a value was expected: the message names the type and the object.
  std::string closure = tiny_rdata().substr(0, 7 + 4 * 4 + 5);
  Xdr x;
  x.tagged_cell();
  x.symbol("f");
  x.i32(3);
  closure += x.bytes;
  const std::string what = error_of([&] { parse_rdata(closure, "fn.RData"); });
  EXPECT_TRUE(contains(what, "CLOSXP (3)")) << what;
  EXPECT_TRUE(contains(what, "(in f)")) << what;
  EXPECT_TRUE(contains(what, "fn.RData")) << what;

  // A vector claiming 2^31 - 1 doubles in a short stream fails before allocating anything.
  std::string huge = tiny_rdata().substr(0, 7 + 4 * 4 + 5);
  Xdr h;
  h.tagged_cell();
  h.symbol("v");
  h.i32(14);
  h.i32(INT32_MAX);
  huge += h.bytes + std::string(64, '\0');
  EXPECT_TRUE(contains(error_of([&] { parse_rdata(huge, "huge"); }), "truncated"));

  // Lists nested 100,000 deep are refused at a fixed depth instead of overflowing the stack.
  std::string deep = tiny_rdata().substr(0, 7 + 4 * 4 + 5);
  Xdr d;
  d.tagged_cell();
  d.symbol("deep");
  for (int i = 0; i < 100000; ++i) {
    d.i32(19);
    d.i32(1);
  }
  deep += d.bytes;
  EXPECT_TRUE(contains(error_of([&] { parse_rdata(deep, "deep"); }), "nested deeper")) << "deep";

  EXPECT_TRUE(contains(error_of([&] { parse_rdata("BZh91AY&SY", "b.rda"); }), "bzip2"));
  EXPECT_TRUE(contains(error_of([&] { parse_rdata(std::string("\xFD" "7zXZ\0\0", 7), "x.rda"); }), "xz"));
  EXPECT_TRUE(contains(error_of([&] { parse_rdata("RDA2\nA\n2\n", "a.rda"); }), "ascii"));
  EXPECT_TRUE(contains(error_of([&] { parse_rdata("RDX2\nB\n", "b.rda"); }), "native binary"));
  EXPECT_TRUE(contains(error_of([&] { parse_rdata("hello world", "t.rda"); }), "RDX2"));
  EXPECT_TRUE(contains(error_of([&] { read_rdata("/nonexistent/file.rda"); }), "/nonexistent/file.rda"));
  // Found by fuzz/fuzz_cells (UndefinedBehaviorSanitizer: a negative long-vector upper word was shifted):
  // a REALSXP whose length is -1 (long vector) with upper word -1 is refused by name.
  const std::string rds = std::string("X\n\0\0\0\x03\0\x04\x03\0\0\x03\x05\0\0\0\0\x05UTF-8", 23) +
                          std::string("\0\0\0\x0e\xff\xff\xff\xff\xff\xff\xff\xff\0\0\0\x02", 16);
  EXPECT_TRUE(contains(error_of([&] { parse_rds(rds, "long.rds"); }), "implausible long vector length (upper word -1)"))
      << error_of([&] { parse_rds(rds, "long.rds"); });
}

TEST(RData, ReadsRdsAndAltrepCompactSequences) {
  // saveRDS(1:5) in R >= 3.5 writes an ALTREP compact_intseq: info pairlist(class, package, type),
  // state c(n, first, step) as doubles, then attributes (NULL).
  Xdr x;
  x.bytes = "X\n";
  x.i32(3);
  x.i32(0x00040201);
  x.i32(0x00030500);
  x.i32(5);
  x.bytes += "UTF-8";
  x.i32(238);
  x.i32(2);  // info: untagged pairlist
  x.symbol("compact_intseq");
  x.i32(2);
  x.symbol("base");
  x.i32(2);
  x.i32(13);
  x.i32(1);
  x.i32(13);
  x.nil();
  x.i32(14);
  x.i32(3);
  x.f64(5);
  x.f64(1);
  x.f64(1);
  x.nil();
  const RObject seq = parse_rds(gzip(x.bytes), "seq.rds");
  EXPECT_EQ(seq.type, RType::Integer);
  EXPECT_EQ(seq.ints, (std::vector<int32_t>{1, 2, 3, 4, 5}));
}

// ---- HSMM and monocle lung ----------------------------------------------------------------------

class Hsmm : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string dir = data_dir() + "/HSMMSingleCell";
    if (!fs::exists(dir + "/data/HSMM_expr_matrix.rda")) return;
    const auto start = std::chrono::steady_clock::now();
    data_ = new CellData(load_hsmm(dir));
    seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  static void TearDownTestSuite() {
    delete data_;
    data_ = nullptr;
  }
  void SetUp() override {
    if (!data_) GTEST_SKIP() << "HSMM data absent from " << data_dir() << " (run scripts/setup.sh)";
  }
  static CellData* data_;
  static double seconds_;
};
CellData* Hsmm::data_ = nullptr;
double Hsmm::seconds_ = 0;

TEST_F(Hsmm, ExpressionMatrixIsCellsByGenes) {
  const CellData& d = *data_;
  std::cout << "[ HSMM    ] loaded in " << seconds_ << " s\n";
  ASSERT_EQ(d.x.rows, 271);
  ASSERT_EQ(d.x.cols, 47192);
  ASSERT_EQ(d.cells.size(), 271u);
  ASSERT_EQ(d.features.size(), 47192u);
  EXPECT_EQ(std::count_if(d.x.data.begin(), d.x.data.end(), [](double v) { return v != 0; }), 2017470);
  EXPECT_TRUE(std::none_of(d.x.data.begin(), d.x.data.end(), [](double v) { return std::isnan(v); }));
  const auto max = std::max_element(d.x.data.begin(), d.x.data.end());
  EXPECT_NEAR(*max, 47677.1, 0.05);
  // Values read off with an independent (numpy) reader of the same file.
  const int64_t argmax = max - d.x.data.begin();
  EXPECT_EQ(d.cells[size_t(argmax / d.x.cols)], "T48_CT_E06");
  EXPECT_EQ(d.features[size_t(argmax % d.x.cols)], "ENSG00000159251.6");
  EXPECT_EQ(d.cells[0], "T0_CT_A01");
  EXPECT_EQ(d.features[0], "ENSG00000000003.10");
  EXPECT_NEAR(d.x(0, 0), 21.9844, 1e-9);
  EXPECT_NEAR(d.x(0, 2), 40.0597, 1e-9);
  EXPECT_NEAR(d.x(0, 100), 2.42693, 1e-9);
  double first_cell_total = 0;
  for (int64_t j = 0; j < d.x.cols; ++j) first_cell_total += d.x(0, j);
  EXPECT_NEAR(first_cell_total, 535932.2555, 1e-3);
}

TEST_F(Hsmm, SampleSheetAnnotationsAreDecoded) {
  const CellData& d = *data_;
  ASSERT_EQ(d.annotations.size(), 7u);
  EXPECT_EQ(value_counts(d.annotation("Hours")),
            (std::map<std::string, int>{{"0", 69}, {"24", 74}, {"48", 79}, {"72", 49}}));
  EXPECT_EQ(value_counts(d.annotation("State")), (std::map<std::string, int>{{"1", 99}, {"2", 129}, {"3", 43}}));
  EXPECT_EQ(value_counts(d.annotation("Media")), (std::map<std::string, int>{{"DM", 202}, {"GM", 69}}));
  EXPECT_EQ(value_counts(d.annotation("Library")).size(), 271u);  // 384 levels, one library per cell
  const Annotation& pseudotime = d.annotation("Pseudotime");
  ASSERT_TRUE(pseudotime.numeric);
  EXPECT_EQ(*std::min_element(pseudotime.numbers.begin(), pseudotime.numbers.end()), 0.0);
  EXPECT_NEAR(*std::max_element(pseudotime.numbers.begin(), pseudotime.numbers.end()), 76.6541594629283, 1e-9);
  EXPECT_NEAR(pseudotime.numbers[0], 23.91667259, 1e-7);
  const Annotation& fragments = d.annotation("Mapped.Fragments");
  ASSERT_TRUE(fragments.numeric);
  EXPECT_EQ(fragments.numbers[0], 1958074.0);
  EXPECT_EQ(fragments.values[0], "1958074");
}

TEST_F(Hsmm, GeneAnnotationFrame) {
  const auto objects = read_rdata(data_dir() + "/HSMMSingleCell/data/HSMM_gene_annotation.rda");
  const RObject& genes = objects.at("HSMM_gene_annotation");
  ASSERT_TRUE(genes.is_data_frame());
  EXPECT_EQ(data_frame_rows(genes), 47192);
  EXPECT_EQ(data_frame_row_names(genes)[0], "ENSG00000000003.10");
  const auto columns = data_frame_annotations(genes, "genes");
  ASSERT_EQ(columns.size(), 4u);
  EXPECT_EQ(columns[0].name, "gene_short_name");
  EXPECT_EQ(columns[0].values[0], "TSPAN6");
  EXPECT_EQ(columns[3].name, "use_for_ordering");
  EXPECT_EQ(value_counts(columns[3]).at("TRUE"), 518);
  EXPECT_EQ(value_counts(columns[3]).count("NA"), 0u);
  EXPECT_TRUE(columns[2].numeric);  // num_cells_expressed
  EXPECT_EQ(columns[2].numbers[0], 231.0);
}

TEST(MonocleLung, MatrixAndPhenotypes) {
  const std::string dir = data_dir() + "/monocle";
  if (!fs::exists(dir + "/extdata/lung_exprs_data.RData"))
    GTEST_SKIP() << "monocle data absent from " << data_dir() << " (run scripts/setup.sh)";
  const CellData d = load_monocle_lung(dir);
  ASSERT_EQ(d.x.rows, 185);
  ASSERT_EQ(d.x.cols, 218);
  EXPECT_EQ(std::count(d.x.data.begin(), d.x.data.end(), 0.0), 21386);
  EXPECT_EQ(d.cells[0], "SRR1033854_0");
  EXPECT_EQ(d.features[0], "ENSMUSG00000000031.9");
  EXPECT_NEAR(d.x(0, 1), 34.63543561, 1e-8);
  EXPECT_NEAR(d.x(10, 20), 24.02577529139643, 1e-12);
  EXPECT_NEAR(d.x(184, 217), 60.06575713351059, 1e-12);
  ASSERT_EQ(d.annotations.size(), 28u);
  EXPECT_EQ(value_counts(d.annotation("State")), (std::map<std::string, int>{{"1", 71}, {"2", 58}, {"3", 56}}));
  EXPECT_EQ(value_counts(d.annotation("age")),
            (std::map<std::string, int>{{"Embryonic day 14.5", 44},
                                        {"Embryonic day 16.5", 27},
                                        {"Embryonic day 18.5", 68},
                                        {"post natal day 107", 46}}));
  EXPECT_EQ(d.annotation("Time").values[0], "E18.5");
  EXPECT_EQ(value_counts(d.annotation("Parent")).at("NA"), 1);  // a factor with one NA code

  // The generic paths agree: the one matrix + the one data.frame, and the folder dispatch.
  const CellData generic = load_r_matrix(dir + "/extdata/lung_exprs_data.RData",
                                         dir + "/extdata/lung_phenotype_data.RData");
  EXPECT_EQ(generic.x.data, d.x.data);
  EXPECT_EQ(generic.annotation("State").values, d.annotation("State").values);
  const CellData dispatched = load_cells(dir);
  EXPECT_EQ(dispatched.x.data, d.x.data);
  EXPECT_EQ(dispatched.cells, d.cells);

  // The feature table is a data.frame, not a matrix: the error lists what the file holds.
  const std::string what = error_of([&] { load_r_matrix(dir + "/extdata/lung_feature_data.RData"); });
  EXPECT_TRUE(contains(what, "no numeric matrix")) << what;
  EXPECT_TRUE(contains(what, "lung_feature_data: data.frame (218 rows")) << what;
  // Annotations whose row names are other cells are refused.
  CellData renamed = generic;
  renamed.annotations.clear();
  renamed.cells[3] = "not_a_cell";
  const std::string mismatch = error_of([&] { attach_annotations(renamed, dir + "/extdata/lung_phenotype_data.RData"); });
  EXPECT_TRUE(contains(mismatch, "not_a_cell")) << mismatch;
}

// ---- 10x MatrixMarket ---------------------------------------------------------------------------

namespace {

const char* kMtx =
    "%%MatrixMarket matrix coordinate integer general\n"
    "%metadata_json: {\"software_version\": \"test\"}\n"
    "3 4 5\n"
    "1 1 5\n"
    "3 1 2\n"
    "2 2 7\n"
    "1 4 1\n"
    "3 4 9\n";
const char* kFeatures = "ENSG1\tGeneA\tGene Expression\nENSG2\tGeneB\tGene Expression\nENSG3\tGeneC\tGene Expression\n";
const char* kBarcodes = "AAAC-1\nAAAG-1\nAACT-1\nAAGT-1\n";

}  // namespace

TEST(TenX, FolderRoundTripsToDenseCellsByGenes) {
  const TempDir dir;
  dir.write("matrix.mtx.gz", gzip(kMtx));
  dir.write("features.tsv", kFeatures);
  dir.write("barcodes.tsv.gz", gzip(kBarcodes));
  const CellData d = load_cells(dir.path.string());
  ASSERT_EQ(d.x.rows, 4);
  ASSERT_EQ(d.x.cols, 3);
  const std::vector<double> expected = {5, 0, 2, 0, 7, 0, 0, 0, 0, 1, 0, 9};
  EXPECT_EQ(d.x.data, expected);
  EXPECT_EQ(d.cells, (std::vector<std::string>{"AAAC-1", "AAAG-1", "AACT-1", "AAGT-1"}));
  EXPECT_EQ(d.features, (std::vector<std::string>{"GeneA", "GeneB", "GeneC"}));

  // GEO-style prefixed files, addressed through the .mtx path.
  const TempDir geo;
  const std::string mtx = geo.write("GSM1_matrix.mtx", kMtx);
  geo.write("GSM1_genes.tsv", "ENSG1\tGeneA\nENSG2\tGeneB\nENSG3\tGeneC\n");
  geo.write("GSM1_barcodes.tsv", kBarcodes);
  const CellData g = load_10x(mtx);
  EXPECT_EQ(g.x.data, expected);
  EXPECT_EQ(g.features[2], "GeneC");
  EXPECT_EQ(g.cells[3], "AAGT-1");
}

TEST(TenX, InvalidFilesNameTheFileAndLine) {
  const TempDir dir;
  const std::string features = dir.write("features.tsv", kFeatures);
  const std::string barcodes = dir.write("barcodes.tsv", kBarcodes);
  const auto load_with = [&](const std::string& mtx_text) {
    dir.write("matrix.mtx", mtx_text);
    return error_of([&] { load_10x(dir.path.string()); });
  };
  const std::string mtx = (dir.path / "matrix.mtx").string();

  std::string what = load_with("%%MatrixMarket matrix array real general\n3 4\n");
  EXPECT_TRUE(contains(what, mtx) && contains(what, "line 1")) << what;
  what = load_with("gene,cell\n");
  EXPECT_TRUE(contains(what, mtx) && contains(what, "%%MatrixMarket")) << what;

  std::string bad_index = kMtx;
  bad_index.replace(bad_index.find("3 4 9"), 5, "4 4 9");
  what = load_with(bad_index);
  EXPECT_TRUE(contains(what, mtx) && contains(what, "line 8") && contains(what, "outside")) << what;

  std::string wrong_count = kMtx;
  wrong_count.replace(wrong_count.find("3 4 5"), 5, "3 4 6");
  what = load_with(wrong_count);
  EXPECT_TRUE(contains(what, mtx) && contains(what, "ends after 5 entries") && contains(what, "declares 6")) << what;
  wrong_count.replace(wrong_count.find("3 4 6"), 5, "3 4 4");
  what = load_with(wrong_count);
  EXPECT_TRUE(contains(what, mtx) && contains(what, "line 8") && contains(what, "more entries")) << what;

  dir.write("matrix.mtx", kMtx);
  dir.write("barcodes.tsv", "AAAC-1\nAAAG-1\nAACT-1\n");
  what = error_of([&] { load_10x(dir.path.string()); });
  EXPECT_TRUE(contains(what, barcodes) && contains(what, "3 cells") && contains(what, "4 columns")) << what;
  dir.write("barcodes.tsv", kBarcodes);
  dir.write("features.tsv", "ENSG1\tGeneA\n");
  what = error_of([&] { load_10x(dir.path.string()); });
  EXPECT_TRUE(contains(what, features) && contains(what, "1 features")) << what;

  fs::remove(dir.path / "barcodes.tsv");
  what = error_of([&] { load_10x(dir.path.string()); });
  EXPECT_TRUE(contains(what, "barcodes.tsv")) << what;
}

// ---- dense tables -------------------------------------------------------------------------------

TEST(DenseTable, SeuratStyleGenesByCellsIsTransposed) {
  const TempDir dir;
  const std::string path = dir.write("counts.csv", "gene,c1,c2,c3\ng1,1,2,3\n\"g2\",4,5,6\n");
  const CellData d = load_cells(path);
  ASSERT_EQ(d.x.rows, 3);
  ASSERT_EQ(d.x.cols, 2);
  EXPECT_EQ(d.x.data, (std::vector<double>{1, 4, 2, 5, 3, 6}));
  EXPECT_EQ(d.cells, (std::vector<std::string>{"c1", "c2", "c3"}));
  EXPECT_EQ(d.features, (std::vector<std::string>{"g1", "g2"}));

  // The same file read with one cell per row.
  LoadOptions rows;
  rows.cells_as_rows = true;
  const CellData r = read_dense_table(path, rows);
  ASSERT_EQ(r.x.rows, 2);
  EXPECT_EQ(r.x.data, (std::vector<double>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(r.cells, (std::vector<std::string>{"g1", "g2"}));
  EXPECT_EQ(r.features, (std::vector<std::string>{"c1", "c2", "c3"}));

  // R's write.table (tab-separated, header without the corner field), gzipped, with NA.
  const std::string tsv = dir.write("counts.tsv.gz", gzip("c1\tc2\ng1\t1.5\tNA\ng2\t3\t4e2\n"));
  const CellData t = load_cells(tsv);
  ASSERT_EQ(t.x.rows, 2);
  ASSERT_EQ(t.x.cols, 2);
  EXPECT_EQ(t.x(0, 0), 1.5);
  EXPECT_EQ(t.x(0, 1), 3.0);
  EXPECT_TRUE(std::isnan(t.x(1, 0)));
  EXPECT_EQ(t.x(1, 1), 400.0);
  EXPECT_EQ(t.cells, (std::vector<std::string>{"c1", "c2"}));
}

TEST(DenseTable, HeaderlessNumericTableIsCellsByFeatures) {
  const TempDir dir;
  const std::string path = dir.write("X.csv", "1,2\n3,4\n5,6\n");
  const CellData d = load_cells(path);
  ASSERT_EQ(d.x.rows, 3);
  ASSERT_EQ(d.x.cols, 2);
  EXPECT_EQ(d.x.data, (std::vector<double>{1, 2, 3, 4, 5, 6}));
  EXPECT_TRUE(d.cells.empty());
  EXPECT_TRUE(d.features.empty());
  LoadOptions genes_rows;
  genes_rows.cells_as_rows = false;
  const CellData t = read_dense_table(path, genes_rows);
  EXPECT_EQ(t.x.rows, 2);
  EXPECT_EQ(t.x.data, (std::vector<double>{1, 3, 5, 2, 4, 6}));
}

TEST(DenseTable, RaggedRowsAndTextGiveLineAndColumn) {
  const TempDir dir;
  const std::string ragged = dir.write("ragged.csv", "gene,c1,c2\ng1,1,2\ng2,3\n");
  std::string what = error_of([&] { load_cells(ragged); });
  EXPECT_TRUE(contains(what, ragged) && contains(what, "line 3") && contains(what, "ragged")) << what;
  const std::string long_row = dir.write("long.csv", "1,2\n3,4,5\n");
  what = error_of([&] { load_cells(long_row); });
  EXPECT_TRUE(contains(what, "line 2 has 3 fields")) << what;
  const std::string text = dir.write("text.csv", "gene,c1,c2\ng1,1,x2\n");
  what = error_of([&] { load_cells(text); });
  EXPECT_TRUE(contains(what, "line 2, column 3") && contains(what, "'x2'")) << what;
  const std::string bad_header = dir.write("header.csv", "gene,c1,c2,c3,c4\ng1,1,2\n");
  what = error_of([&] { load_cells(bad_header); });
  EXPECT_TRUE(contains(what, "line 1")) << what;
}

TEST(DenseTable, AnnotationTableMatchesCellsByNameOrOrder) {
  const TempDir dir;
  const std::string counts = dir.write("counts.csv", "gene,c1,c2,c3\ng1,1,2,3\ng2,4,5,6\n");
  // Rows in another order, plus a cell the data does not have: matched by name.
  const std::string by_name = dir.write("cells.csv", "cell,type,depth\nc3,B,30\nc9,C,90\nc1,A,10\nc2,A,NA\n");
  LoadOptions options;
  options.annotations = by_name;
  const CellData d = load_cells(counts, options);
  ASSERT_EQ(d.annotations.size(), 2u);
  EXPECT_EQ(d.annotation("type").values, (std::vector<std::string>{"A", "A", "B"}));
  const Annotation& depth = d.annotation("depth");
  ASSERT_TRUE(depth.numeric);
  EXPECT_EQ(depth.numbers[0], 10.0);
  EXPECT_TRUE(std::isnan(depth.numbers[1]));
  EXPECT_EQ(depth.numbers[2], 30.0);

  // Unnamed cells: rows in order, and every column (the first too) is an annotation.
  CellData x;
  x.x = Matrix(2, 1);
  attach_annotations(x, dir.write("order.tsv", "batch\tsize\nb1\t3\nb2\t4\n"));
  ASSERT_EQ(x.annotations.size(), 2u);
  EXPECT_EQ(x.annotation("batch").values, (std::vector<std::string>{"b1", "b2"}));
  EXPECT_TRUE(x.annotation("size").numeric);
  const std::string wrong = error_of([&] { attach_annotations(x, dir.write("three.csv", "a\n1\n2\n3\n")); });
  EXPECT_TRUE(contains(wrong, "3 rows") && contains(wrong, "2 cells")) << wrong;

  // An empty corner field marks a names column; a cell without a row is an error naming it.
  CellData named;
  named.x = Matrix(2, 1);
  named.cells = {"c1", "c7"};
  const std::string missing = error_of([&] { attach_annotations(named, dir.write("r.csv", "\"\",t\nc1,a\nc2,b\n")); });
  EXPECT_TRUE(contains(missing, "'c7'")) << missing;
}

TEST(LoadCells, UnknownPathsAreExplained) {
  const TempDir dir;
  EXPECT_TRUE(contains(error_of([&] { load_cells(dir.path.string()); }), "matrix.mtx"));
  EXPECT_TRUE(contains(error_of([&] { load_cells(dir.write("a.xlsx", "x")); }), "unknown kind of file"));
  EXPECT_TRUE(contains(error_of([&] { load_cells((dir.path / "none.csv").string()); }), "does not exist"));
}
