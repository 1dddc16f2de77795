// Time of the 3DIEBench retrieval metrics (MRR / H@k over every object's views, PRE with sampled queries)
// on random embeddings of the size: 10,000 objects x 50 views, d = 1024 (the default SIE's
// equivariant projector). The data come from torch's CPU generator with a fixed seed, so the Python peer
// (bench/sie_metrics_bench.py) draws the identical tensors and the values can be compared too.
// Prints one JSON object. Usage: jess_bench_sie_metrics [--objects N] [--views V] [--dim d] [--queries Q]
//                                                        [--threads T]
#include <ATen/ATen.h>
#include <torch/utils.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "jess/core/runtime.h"
#include "jess/equivariance/metrics.h"

namespace {
double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }
}  // namespace

int main(int argc, char** argv) {
  int64_t objects = 10000, views = 50, dim = 1024, queries = 10000;
  int threads = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const long long v = std::atoll(argv[i + 1]);
    if (k == "--objects") objects = v;
    else if (k == "--views") views = v;
    else if (k == "--dim") dim = v;
    else if (k == "--queries") queries = v;
    else if (k == "--threads") threads = int(v);
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      return 2;
    }
  }
  jess::init_runtime(threads, true);
  torch::NoGradGuard ng;
  at::manual_seed(0);
  // Embeddings, predictions near them (so the ranks are neither all 1 nor random), absolute rotations.
  auto e = at::randn({objects, views, dim});
  auto p = e + 20.0 * at::randn({objects, views, dim});
  auto q = at::randn({objects, views, 4}, at::kDouble);
  q = q / q.norm(2, -1, true);
  auto qi = at::randperm(objects * views).narrow(0, 0, std::min(queries, objects * views));
  double t = now();
  const auto r = jess::equivariance::retrieval_metrics(p, e);
  const double t_mrr = now() - t;
  t = now();
  const auto flat_p = p.flatten(0, 1), flat_q = q.flatten(0, 1);
  const double pre = jess::equivariance::prediction_error(flat_p.index_select(0, qi), flat_q.index_select(0, qi),
                                                          e.flatten(0, 1), flat_q);
  const double t_pre = now() - t;
  std::printf("{\"objects\": %lld, \"views\": %lld, \"dim\": %lld, \"queries\": %lld, \"threads\": %d, "
              "\"mrr\": %.9g, \"h1\": %.9g, \"h5\": %.9g, \"pre\": %.9g, \"seconds_mrr\": %.4f, \"seconds_pre\": %.4f, \"openblas_kernels\": \"%s\"}\n",
              (long long)objects, (long long)views, (long long)dim, (long long)qi.size(0), jess::runtime_info().threads,
              r.mrr, r.h1, r.h5, pre, t_mrr, t_pre, jess::runtime_info().openblas_core.c_str());
  return 0;
}
