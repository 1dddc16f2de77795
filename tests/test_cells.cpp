// cells package: data types (readers, density tree and DTAE tests live in test_cells_*.cpp).
#include <gtest/gtest.h>

#include "jess/cells/matrix.h"

using namespace jess::cells;

TEST(CellData, SelectFeaturesKeepsColumnsAndNamesInOrder) {
  CellData d;
  d.x = Matrix(2, 3);
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t j = 0; j < 3; ++j) d.x(i, j) = double(10 * i + j);
  d.features = {"a", "b", "c"};
  d.select_features({2, 0});
  ASSERT_EQ(d.x.cols, 2);
  EXPECT_EQ(d.x(1, 0), 12.0);
  EXPECT_EQ(d.x(1, 1), 10.0);
  EXPECT_EQ(d.features, (std::vector<std::string>{"c", "a"}));
  EXPECT_THROW(d.select_features({5}), std::out_of_range);
}

TEST(CellData, UnknownAnnotationNamesTheAvailableOnes) {
  CellData d;
  d.annotations.push_back({"Hours", {"0", "24"}, {}, false});
  EXPECT_EQ(d.annotation("Hours").values[1], "24");
  try {
    d.annotation("time");
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("Hours"), std::string::npos);
  }
}
