// Core utilities: configuration, .npy and HDF5 I/O, plots, random numbers.
#include <gtest/gtest.h>
#include <iterator>
#include <unistd.h>

#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>
#include <vector>

#include "jess/core/config.h"
#include "jess/core/hdf5_file.h"
#include "jess/core/image_io.h"
#include "jess/core/npy.h"
#include "jess/core/plot.h"
#include "jess/core/rng.h"
#include "jess/core/runtime.h"

namespace {
const bool kRuntime = (jess::init_runtime(1, false), true);

std::string temp_dir() {
  char tmpl[] = "/tmp/jess_core_XXXXXX";
  return mkdtemp(tmpl);
}

struct Opts {
  std::string name = "kdv";
  int64_t n = 4;
  double lr = 0.1;
  bool flag = false;
  void describe(jess::ConfigSchema& s) {
    s.add("model.name", name, "model", jess::check::one_of({"kdv", "ks"}));
    s.add("model.n", n, "count", jess::check::positive_int());
    s.add("optim.lr", lr, "learning rate", jess::check::positive());
    s.add("flag", flag, "a switch");
  }
};

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(Config, DefaultsYamlThenOverrides) {
  Opts o;
  jess::ConfigSchema s;
  o.describe(s);
  s.load_yaml_string("model:\n  name: ks\n  n: 7\noptim: {lr: 0.5}\n", "test.yaml");
  EXPECT_EQ(o.name, "ks");
  EXPECT_EQ(o.n, 7);
  EXPECT_DOUBLE_EQ(o.lr, 0.5);
  s.apply_overrides({"model.n=9", "flag=yes", "optim.lr=1e-3"});
  EXPECT_EQ(o.n, 9);
  EXPECT_TRUE(o.flag);
  EXPECT_DOUBLE_EQ(o.lr, 1e-3);
  // The effective configuration reads back to the same values.
  Opts p;
  jess::ConfigSchema s2;
  p.describe(s2);
  s2.load_yaml_string(s.to_yaml(), "roundtrip");
  EXPECT_EQ(p.name, o.name);
  EXPECT_EQ(p.n, o.n);
  EXPECT_EQ(p.lr, o.lr);
  EXPECT_EQ(p.flag, o.flag);
}

TEST(Config, AStoredConfigurationFromAnOlderOrNewerSchemaLoads) {
  // Stored by an earlier jess: 'optim.lr' missing (added since: keeps its default), 'model.old' no
  // longer a key (skipped); a plain YAML load refuses the unknown key, and values are still checked.
  Opts o;
  jess::ConfigSchema s;
  o.describe(s);
  const double lr_default = o.lr;
  s.load_stored_yaml("model:\n  name: ks\n  n: 7\n  old: 3\n", "run");
  EXPECT_EQ(o.name, "ks");
  EXPECT_EQ(o.n, 7);
  EXPECT_DOUBLE_EQ(o.lr, lr_default);
  EXPECT_THROW(s.load_yaml_string("model:\n  old: 3\n", "cfg"), jess::ConfigError);
  EXPECT_THROW(s.load_stored_yaml("model:\n  n: seven\n", "run"), jess::ConfigError);
  // The key-by-key comparison behind resuming such runs.
  const auto d = jess::compare_configs("a: 1\nb: {c: 2, gone: 4}\n", "a: 1\nb: {c: 3}\nnew: x\n");
  ASSERT_EQ(d.added.size(), 1u);
  EXPECT_EQ(d.added[0].first, "new");
  ASSERT_EQ(d.removed.size(), 1u);
  EXPECT_EQ(d.removed[0].first, "b.gone");
  ASSERT_EQ(d.changed.size(), 1u);
  EXPECT_EQ(d.changed[0].key, "b.c");
  EXPECT_EQ(d.changed[0].stored, "2");
  EXPECT_EQ(d.changed[0].current, "3");
  EXPECT_TRUE(jess::compare_configs("a: 1\n", "a: 1\n").empty());
}

TEST(Runtime, OpenMpWaitsPassivelyOnlyOnABusyMachineAndNeverAgainstTheEnvironment) {
  EXPECT_FALSE(jess::wait_passively(0.1, 0.1, 2, false));  // idle: libgomp's default (fastest there)
  EXPECT_TRUE(jess::wait_passively(1.0, 1.0, 2, false));   // half the cores busy, now and over the minute
  EXPECT_TRUE(jess::wait_passively(3.5, 2.0, 2, false));
  EXPECT_FALSE(jess::wait_passively(3.5, 2.0, 2, true));   // OMP_WAIT_POLICY / GOMP_SPINCOUNT set: theirs
  EXPECT_FALSE(jess::wait_passively(1.8, 0.1, 2, false));  // the last minute's run has ended: idle now
  EXPECT_FALSE(jess::wait_passively(0.2, 2.0, 2, false));  // a moment's burst on a quiet minute
  EXPECT_FALSE(jess::wait_passively(3.9, 4.0, 8, false));
  EXPECT_TRUE(jess::wait_passively(4.0, 4.0, 8, false));
  EXPECT_TRUE(jess::wait_passively(0.5, 0.5, 0, false));   // unknown core count: treated as one
}

// The trim threshold scales with the machine: a fixed 256 MiB let glibc return (and fault in again) the
// ~320 MiB a resnet_small w32 step at batch 256 frees at the heap top, 35 % fewer images/s (runtime.cpp).
TEST(Runtime, TheTrimThresholdIsAnEighthOfTheMemoryAndAtLeast256MiB) {
  EXPECT_EQ(jess::trim_threshold_for(0), std::size_t(256) << 20);  // unknown memory: the floor
  EXPECT_EQ(jess::trim_threshold_for(std::size_t(1) << 30), std::size_t(256) << 20);
  EXPECT_EQ(jess::trim_threshold_for(std::size_t(24) << 30), std::size_t(3) << 30);
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  const std::size_t expected = std::min<std::size_t>(
      jess::trim_threshold_for(std::size_t(pages) * std::size_t(page)), std::size_t(INT_MAX));
  EXPECT_EQ(jess::tune_allocator(), "mmap_threshold=64MiB trim_threshold=" + std::to_string(expected >> 20) + "MiB");
}

TEST(Config, ErrorsNameTheKeyAndTheValue) {
  Opts o;
  jess::ConfigSchema s;
  o.describe(s);
  auto e1 = error_of([&] { s.apply_overrides({"model.n=2.5"}); });
  EXPECT_NE(e1.find("'model.n' = '2.5'"), std::string::npos) << e1;
  EXPECT_NE(e1.find("integer"), std::string::npos) << e1;
  auto e2 = error_of([&] { s.apply_overrides({"model.n=0"}); });
  EXPECT_NE(e2.find("> 0"), std::string::npos) << e2;
  auto e3 = error_of([&] { s.apply_overrides({"model.nme=ks"}); });
  EXPECT_NE(e3.find("unknown config key 'model.nme'"), std::string::npos) << e3;
  auto e4 = error_of([&] { s.apply_overrides({"n=3"}); });
  EXPECT_NE(e4.find("did you mean: model.n"), std::string::npos) << e4;
  auto e5 = error_of([&] { s.load_yaml_string("optim:\n  lr: nan\n", "bad.yaml"); });
  EXPECT_NE(e5.find("bad.yaml"), std::string::npos) << e5;
  auto e6 = error_of([&] { s.load_yaml_string("model: [1, 2\n", "broken.yaml"); });
  EXPECT_NE(e6.find("invalid YAML"), std::string::npos) << e6;
  auto e7 = error_of([&] { s.apply_overrides({"model.name=navier"}); });
  EXPECT_NE(e7.find("one of: kdv ks"), std::string::npos) << e7;
  EXPECT_EQ(o.name, "kdv");  // a rejected value leaves the field unchanged
  EXPECT_EQ(o.n, 4);
}

TEST(Npy, TheRowReaderRefusesAnArrayOfTheWrongRankCleanly) {
  // Found by fuzz/fuzz_npy (AddressSanitizer: the message read the shape after freeing it). The seed
  // corpus keeps the input (fuzz/corpus/npy/u8_3d.npy); here the message is checked in the plain build.
  const std::string path = ::testing::TempDir() + "/jess_rank3.npy";
  const std::vector<double> data(8, 1.0);
  jess::write_npy(path, data.data(), {2, 2, 2});
  try {
    jess::NpyRowReader r(path);
    ADD_FAILURE() << "a 3-D array was read row by row";
  } catch (const jess::NpyError& e) {
    EXPECT_NE(std::string(e.what()).find("expected a 2-D array (samples x features), got 3 dimensions"), std::string::npos)
        << e.what();
  }
  std::remove(path.c_str());
}

TEST(Hdf5, CorruptFilesFoundByFuzzingAreClearErrors) {
  // Found by fuzz/fuzz_hdf5 (scripts/fuzz.sh hdf5); libhdf5 1.10 itself allocated tens of GB, crashed or
  // looped on each (h5py too). jess checks the chunk layout, the number type and the string heap first.
  struct Case {
    const char *file, *dataset, *needle;
  } cases[] = {
      {"regression_chunk_rank.h5", "/images", "corrupt or unsupported layout"},        // 5-D chunks of 4-D data
      {"regression_float_fields.h5", "/train/t", "corrupt or unsupported layout"},     // float bit fields
      {"regression_heap_index.h5", "/set_names", "refers to a missing or shorter heap object"},
      {"regression_heap_free_block.h5", "/background_names", "a string heap has a bad free block"},
  };
  for (const Case& c : cases) {
    const std::string path = std::string(JESS_SOURCE_DIR) + "/fuzz/corpus/hdf5/" + c.file;
    jess::H5Reader r(path);
    std::string message;
    try {
      if (std::string(c.dataset).find("names") != std::string::npos) {
        (void)r.read_strings(c.dataset);
      } else {
        (void)r.read_i64(c.dataset);
      }
    } catch (const jess::H5Error& e) {
      message = e.what();
    }
    EXPECT_NE(message.find(c.needle), std::string::npos) << c.file << ": " << message;
  }
  // The valid seeds still read: strings, integers and floats.
  jess::H5Reader ok(std::string(JESS_SOURCE_DIR) + "/fuzz/corpus/hdf5/factors_small.h5");
  EXPECT_EQ(ok.read_strings("/set_names").size(), 9u);
  EXPECT_EQ(ok.read_strings("/set_names")[0], "canonical");
  EXPECT_EQ(ok.read_u8("/images").size(), 2u * 8 * 8 * 3);
  EXPECT_EQ(ok.read_f64("/factors").size(), 2u * 14);
}

TEST(Readers, DeclaredSizesBeyondTheFileAreRefusedBeforeAllocating) {
  // Found by 10-minute campaigns of fuzz/fuzz_npy and fuzz/fuzz_image: a header declaring terabytes
  // (NPY) or a 2 GB image in 109 bytes (JPEG) was allocated before anything was checked.
  const std::string corpus = std::string(JESS_SOURCE_DIR) + "/fuzz/corpus/";
  try {
    (void)jess::read_npy(corpus + "npy/regression_declares_terabytes.npy");
    ADD_FAILURE() << "read";
  } catch (const jess::NpyError& e) {
    EXPECT_NE(std::string(e.what()).find("its header declares"), std::string::npos) << e.what();
  }
  // A shape whose product overflows int64 (UndefinedBehaviorSanitizer in the fuzzer), and one entry
  // beyond int64 itself: clear errors, not a wrapped size.
  const auto npy_error = [](const std::string& path) {
    try {
      (void)jess::read_npy(path);
    } catch (const jess::NpyError& e) {
      return std::string(e.what());
    }
    return std::string("(read)");
  };
  EXPECT_NE(npy_error(corpus + "npy/regression_shape_product_overflows.npy").find("is not a dimension"), std::string::npos);
  try {  // 6e11 zero-width strings declared in 200 bytes
    (void)jess::read_npy_strings(corpus + "npy/regression_zero_width_strings.npy");
    ADD_FAILURE() << "read";
  } catch (const jess::NpyError& e) {
    EXPECT_NE(std::string(e.what()).find("zero-width strings"), std::string::npos) << e.what();
  }
  {
    const std::string path = ::testing::TempDir() + "/overflow.npy";
    std::string header = "{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904, 4), }";
    header.resize(117, ' ');  // 10 + 118 bytes: a multiple of 64, as NumPy pads
    header += '\n';
    std::ofstream out(path, std::ios::binary);
    out << "\x93NUMPY" << char(1) << char(0) << char(header.size() & 0xff) << char(header.size() >> 8) << header;
    out.close();
    EXPECT_NE(npy_error(path).find("more values than any file can hold"), std::string::npos) << npy_error(path);
  }
  std::ifstream f(corpus + "image/regression_jpeg_claims_2gb.jpg", std::ios::binary);
  const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  try {
    (void)jess::decode_image(bytes);
    ADD_FAILURE() << "decoded";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("more than"), std::string::npos) << e.what();
  }
  // A progressive JPEG of 149 bytes declaring 48559 x 43194 (fuzz/fuzz_image timed out on it, 12 s under
  // ASan): libjpeg's jpeg_start_decompress allocates a progressive image's whole coefficient buffer (4 GB
  // here) and reads every scan, so the size is judged from the header, before decompression starts.
  std::ifstream g(corpus + "image/regression_progressive_jpeg_claims_2_gigapixels.jpg", std::ios::binary);
  const std::vector<uint8_t> progressive((std::istreambuf_iterator<char>(g)), std::istreambuf_iterator<char>());
  ASSERT_EQ(progressive.size(), 149u);
  try {
    (void)jess::decode_image(progressive);
    ADD_FAILURE() << "decoded";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("header claims a 48559x43194 image, more than 149 bytes"), std::string::npos)
        << e.what();
  }
}

TEST(Npy, RoundTripAndForeignLayouts) {
  const std::string dir = temp_dir();
  std::vector<double> v{1, 2, 3, 4, 5, 6};
  jess::write_npy(dir + "/a.npy", v.data(), {2, 3});
  auto a = jess::read_npy(dir + "/a.npy");
  EXPECT_EQ(a.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(a.data, v);
  std::vector<float> f{1.5f, -2.f};
  jess::write_npy_f32(dir + "/f.npy", f.data(), {2});
  auto b = jess::read_npy(dir + "/f.npy");
  EXPECT_EQ(b.shape, (std::vector<int64_t>{2}));
  EXPECT_EQ(b.data, (std::vector<double>{1.5, -2}));
  EXPECT_EQ(b.source_dtype, "<f4");

  // A Fortran-ordered big-endian float64 (2, 3) array written by hand: column-major data.
  {
    std::string header = "{'descr': '>f8', 'fortran_order': True, 'shape': (2, 3), }";
    header += std::string(64 - (10 + header.size() + 1) % 64, ' ') + "\n";
    std::ofstream out(dir + "/fortran.npy", std::ios::binary);
    out.write("\x93NUMPY\x01\x00", 8);
    uint16_t len = uint16_t(header.size());
    out.write(reinterpret_cast<const char*>(&len), 2);
    out << header;
    for (double x : {1.0, 4.0, 2.0, 5.0, 3.0, 6.0}) {  // column-major of [[1,2,3],[4,5,6]]
      unsigned char bytes[8];
      std::memcpy(bytes, &x, 8);
      for (int i = 7; i >= 0; --i) out.put(char(bytes[i]));
    }
  }
  auto c = jess::read_npy(dir + "/fortran.npy");
  EXPECT_EQ(c.data, v);

  // Truncated and non-npy files give clear errors.
  {
    std::ifstream in(dir + "/a.npy", std::ios::binary);
    std::string all((std::istreambuf_iterator<char>(in)), {});
    std::ofstream out(dir + "/trunc.npy", std::ios::binary);
    out << all.substr(0, all.size() - 5);
    std::ofstream junk(dir + "/junk.npy");
    junk << "hello";
  }
  auto e1 = error_of([&] { jess::read_npy(dir + "/trunc.npy"); });
  EXPECT_NE(e1.find("truncated"), std::string::npos) << e1;
  auto e2 = error_of([&] { jess::read_npy(dir + "/junk.npy"); });
  EXPECT_NE(e2.find("not a .npy"), std::string::npos) << e2;
  std::system(("rm -rf " + dir).c_str());
}

TEST(Hdf5, RoundTripAttributesAndAtomicCommit) {
  const std::string dir = temp_dir();
  const std::string path = dir + "/d.h5";
  {
    jess::H5Writer w(path);
    w.create_group("/g");
    std::vector<double> data(2 * 3 * 4);
    for (size_t i = 0; i < data.size(); ++i) data[i] = double(i) * 0.5;
    w.create_f64("/g/u", {2, 3, 4});
    w.write_rows("/g/u", 0, 1, data.data());
    w.write_rows("/g/u", 1, 1, data.data() + 12);
    std::vector<int64_t> ints{3, -1};
    w.write_i64("/g/k", {2}, ints.data());
    w.attr("/", "name", std::string("kdv"));
    w.attr("/g", "scale", 2.5);
    w.attr("/", "count", int64_t(42));
    // Not committed yet: the target does not exist.
    EXPECT_NE(access(path.c_str(), F_OK), 0);
    w.commit();
  }
  jess::H5Reader r(path);
  EXPECT_EQ(r.shape("/g/u"), (jess::H5Shape{2, 3, 4}));
  auto u = r.read_f64("/g/u");
  EXPECT_DOUBLE_EQ(u[13], 6.5);
  EXPECT_EQ(r.read_rows("/g/u", 1, 1)[0], 6.0);
  EXPECT_EQ(r.read_i64("/g/k"), (std::vector<int64_t>{3, -1}));
  EXPECT_EQ(r.attr_string("/", "name"), "kdv");
  EXPECT_DOUBLE_EQ(r.attr_double("/g", "scale"), 2.5);
  EXPECT_EQ(r.attr_int("/", "count"), 42);
  EXPECT_TRUE(r.exists("/g/u"));
  EXPECT_FALSE(r.exists("/h/u"));
  EXPECT_THROW(r.shape("/g/missing"), jess::H5Error);
  {
    // A writer that is abandoned (an exception, a crash) leaves nothing behind.
    jess::H5Writer w(dir + "/abandoned.h5");
    w.create_group("/g");
  }
  EXPECT_NE(access((dir + "/abandoned.h5").c_str(), F_OK), 0);
  EXPECT_EQ(std::system(("test $(ls " + dir + " | wc -l) -eq 1").c_str()), 0);
  EXPECT_THROW(jess::H5Reader(dir + "/none.h5"), jess::H5Error);
  std::system(("rm -rf " + dir).c_str());
}

TEST(Plot, WritesPngAndSvgWithViridis) {
  const std::string dir = temp_dir();
  jess::plot::Heatmap h;
  h.rows = 20;
  h.cols = 30;
  for (int i = 0; i < 600; ++i) h.values.push_back(std::sin(i * 0.1));
  h.title = "test";
  jess::plot::heatmaps({h, h}, {}, dir + "/h.png");
  std::ifstream f(dir + "/h.png", std::ios::binary);
  char sig[8];
  f.read(sig, 8);
  EXPECT_EQ(std::string(sig + 1, 3), "PNG");
  jess::plot::lines({{{1, 2, 3}, {1, 4, 9}, "sq"}}, {"t", "x", "y"}, dir + "/l.svg");
  std::ifstream s(dir + "/l.svg");
  std::string svg((std::istreambuf_iterator<char>(s)), {});
  EXPECT_NE(svg.find("<svg"), std::string::npos);
  EXPECT_THROW(jess::plot::lines({}, {}, dir + "/e.png"), jess::plot::PlotError);
  EXPECT_THROW(jess::plot::heatmaps({h}, {}, dir + "/x.jpg"), jess::plot::PlotError);
  auto lo = jess::plot::viridis(0), hi = jess::plot::viridis(1);
  EXPECT_EQ(lo, (std::array<uint8_t, 3>{68, 1, 84}));
  EXPECT_EQ(hi, (std::array<uint8_t, 3>{253, 231, 37}));
  auto t = jess::plot::nice_ticks(0.03, 9.7, 5);
  EXPECT_EQ(t, (std::vector<double>{2, 4, 6, 8}));
  EXPECT_EQ(jess::plot::tick_label(3, 1), "3");  // integer steps: no decimals (it was "3.0")
  EXPECT_EQ(jess::plot::tick_label(3.5, 0.5), "3.5");
  EXPECT_EQ(jess::plot::tick_label(0.75, 0.25), "0.75");
  EXPECT_EQ(jess::plot::tick_label(7.5, 2.5), "7.5");
  EXPECT_EQ(jess::plot::tick_label(40, 20), "40");
  // The legend avoids the curves: a line along the top -> bottom right; a line in the bottom right -> top
  // right; a diagonal through bottom left and top right -> top left; no curves -> top right.
  using Corner = std::array<double, 2>;
  auto corner = [](std::vector<std::vector<Corner>> lines) {
    return jess::plot::least_crowded_corner(lines, 0, 0, 400, 300, 150, 40);
  };
  EXPECT_EQ(corner({{{0, 10}, {400, 10}}}), (Corner{250, 260}));
  EXPECT_EQ(corner({{{300, 280}, {390, 290}}}), (Corner{250, 0}));
  EXPECT_EQ(corner({{{0, 290}, {400, 10}}}), (Corner{0, 0}));
  EXPECT_EQ(corner({}), (Corner{250, 0}));
  std::system(("rm -rf " + dir).c_str());
}

TEST(Rng, DeterministicPerStreamAndUnbiasedRanges) {
  jess::Rng a(1, 2, 3), b(1, 2, 3), c(1, 2, 4);
  EXPECT_EQ(a.next(), b.next());
  EXPECT_NE(jess::Rng(1, 2, 3).next(), c.next());
  jess::Rng r(5);
  std::set<int64_t> seen;
  double sum = 0;
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    int64_t k = r.integer(1, 3);
    ASSERT_GE(k, 1);
    ASSERT_LE(k, 3);
    seen.insert(k);
    double u = r.uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
  }
  EXPECT_EQ(seen.size(), 3u);
  EXPECT_NEAR(sum / n, 0.5, 0.005);  // 5 standard errors
}

TEST(Runtime, SetsThreadsAndReportsBlas) {
  auto info = jess::init_runtime(2, false);
  EXPECT_EQ(info.threads, 2);
  EXPECT_FALSE(info.blas.empty());
  EXPECT_NE(jess::describe_runtime().find("threads=2"), std::string::npos);
}
