// libFuzzer target: the single-cell readers of outside files on arbitrary bytes — MatrixMarket, dense
// CSV/TSV tables and R's serialisation (.rds / .RData, XDR, plain or gzip).
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <string>

#include "bytes_as_file.h"
#include "jess/cells/rdata.h"
#include "jess/cells/readers.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = bytes_as_file(data, size);
  try {
    auto m = jess::cells::read_matrix_market(path);
    (void)m;
  } catch (const std::exception&) {
  }
  try {
    auto t = jess::cells::read_dense_table(path);
    (void)t;
  } catch (const std::exception&) {
  }
  try {
    auto r = jess::cells::read_rds(path);
    (void)r;
  } catch (const std::exception&) {
  }
  try {
    auto r = jess::cells::read_rdata(path);
    (void)r;
  } catch (const std::exception&) {
  }
  return 0;
}
