// Radius-graph speed: the grid backend (1 and 2 threads) against a FAISS flat search on the
// same clustered points (like an embedding: tight clusters of ~10 points, one per track,
// plus uniform background), at N = 1k, 10k, 100k. Warm-up, then the median of several
// runs; the edge sets of all backends must agree.
// Usage: bench_graph [max N (default 100000)] [D (8)] [radius (0.1)] [k (64)] [gridDims (3)]
//                    [largest N for FAISS (max N)]

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <iomanip>
#include <iostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "trkaas/pipeline/GraphBuilder.hpp"

namespace {

using trkaas::EdgeList;
using trkaas::GraphBuilder;

/// 90% of the points in clusters of 10 (Gaussian, sigma 0.02 per coordinate, centres
/// uniform in [-1,1]^D), 10% uniform in [-1,1]^D; shuffled.
std::vector<float> clusteredPoints(std::int64_t n, std::int64_t dim, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
  std::normal_distribution<float> gauss(0.0f, 0.02f);
  std::vector<float> x(static_cast<std::size_t>(n * dim));
  const std::int64_t clustered = n * 9 / 10;
  std::vector<float> centre(static_cast<std::size_t>(dim));
  for (std::int64_t i = 0; i < n; ++i) {
    float* p = x.data() + i * dim;
    if (i < clustered) {
      if (i % 10 == 0) {
        for (float& c : centre) c = uni(rng);
      }
      for (std::int64_t d = 0; d < dim; ++d) p[d] = centre[d] + gauss(rng);
    } else {
      for (std::int64_t d = 0; d < dim; ++d) p[d] = uni(rng);
    }
  }
  std::vector<std::int64_t> perm(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) perm[i] = i;
  std::shuffle(perm.begin(), perm.end(), rng);
  std::vector<float> y(x.size());
  for (std::int64_t i = 0; i < n; ++i) {
    std::copy(x.begin() + perm[i] * dim, x.begin() + (perm[i] + 1) * dim, y.begin() + i * dim);
  }
  return y;
}

struct Timing {
  double ms;
  EdgeList edges;
};

/// One warm-up build, then the median time of `reps` builds.
Timing timeBuild(const GraphBuilder& builder, const std::vector<float>& x, std::int64_t n,
                 std::int64_t dim, int reps) {
  using Clock = std::chrono::steady_clock;
  Timing t{0.0, builder.build(x.data(), n, dim)};
  std::vector<double> ms;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = Clock::now();
    t.edges = builder.build(x.data(), n, dim);
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  t.ms = ms[ms.size() / 2];
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  const std::int64_t maxN = argc > 1 ? std::atoll(argv[1]) : 100000;
  const std::int64_t dim = argc > 2 ? std::atoll(argv[2]) : 8;
  GraphBuilder::Config base;
  base.radius = argc > 3 ? std::strtof(argv[3], nullptr) : 0.1f;
  base.maxNeighbours = argc > 4 ? std::atoi(argv[4]) : 64;
  base.gridDims = argc > 5 ? std::atoi(argv[5]) : 3;
  const std::int64_t faissMaxN = argc > 6 ? std::atoll(argv[6]) : maxN;

  std::cout << "radius graph: D=" << dim << " r=" << base.radius << " k=" << base.maxNeighbours
            << " gridDims=" << base.gridDims
            << "; points: 90% in clusters of 10 (sigma 0.02), 10% uniform in [-1,1]^D\n"
            << "FAISS: "
            << (GraphBuilder::faissAvailable() ? "IndexFlatL2 range search "
                                                 "(its own OpenMP threads, system BLAS)"
                                               : "not built")
            << "; hardware threads: " << std::thread::hardware_concurrency() << "\n\n";
  std::cout << std::setw(8) << "N" << std::setw(18) << "backend" << std::setw(12) << "ms"
            << std::setw(12) << "edges" << std::setw(12) << "edges/pt" << std::setw(14)
            << "vs faiss" << std::setw(10) << "same" << '\n';

  bool allSame = true;
  for (std::int64_t n = 1000; n <= maxN; n *= 10) {
    const auto x = clusteredPoints(n, dim, 1234);
    const int reps = n <= 1000 ? 21 : (n <= 10000 ? 7 : 3);
    struct Row {
      std::string name;
      Timing t;
    };
    std::vector<Row> rows;
    for (int threads : {1, 2}) {
      GraphBuilder::Config c = base;
      c.threads = threads;
      rows.push_back({"grid " + std::to_string(threads) + " thread" + (threads > 1 ? "s" : ""),
                      timeBuild(GraphBuilder(c), x, n, dim, reps)});
    }
    double faissMs = 0.0;
    if (GraphBuilder::faissAvailable() && n <= faissMaxN) {
      GraphBuilder::Config c = base;
      c.backend = GraphBuilder::Backend::kFaiss;
      c.threads = 2;
      rows.push_back({"faiss flat", timeBuild(GraphBuilder(c), x, n, dim, n >= 100000 ? 1 : reps)});
      faissMs = rows.back().t.ms;
    }
    for (const Row& row : rows) {
      const bool same = row.t.edges.src == rows.front().t.edges.src &&
                        row.t.edges.dst == rows.front().t.edges.dst;
      allSame = allSame && same;
      std::cout << std::setw(8) << n << std::setw(18) << row.name << std::setw(12) << std::fixed
                << std::setprecision(2) << row.t.ms << std::setw(12) << row.t.edges.size()
                << std::setw(12) << std::setprecision(2)
                << static_cast<double>(row.t.edges.size()) / static_cast<double>(n)
                << std::setw(14);
      if (faissMs > 0.0) {
        std::cout << std::setprecision(1) << faissMs / row.t.ms << "x";
      } else {
        std::cout << "-";
      }
      std::cout << std::setw(10) << (same ? "yes" : "NO") << '\n';
    }
  }
  std::cout << (allSame ? "\nall backends gave the same edges\n"
                        : "\nEDGE SETS DIFFER between backends\n");
  return allSame ? 0 : 1;
}
