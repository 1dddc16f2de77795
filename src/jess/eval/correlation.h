#pragma once
// Rank statistics (light header): Spearman's rank correlation, used to ask whether a label-free
// score (RankMe) orders runs like their probe accuracy does (Garrido et al. 2023), and by the cells
// package to compare tree distances with 2-D distances.
#include <vector>

namespace jess::eval {

// Ranks 1..n; tied values get the mean of the ranks they span (as scipy.stats.rankdata "average").
std::vector<double> average_ranks(const std::vector<double>& values);

// Pearson correlation of the average ranks (scipy.stats.spearmanr). NaN when either vector is
// constant. Throws std::invalid_argument on different lengths or fewer than 2 values.
double spearman(const std::vector<double>& x, const std::vector<double>& y);

}  // namespace jess::eval
