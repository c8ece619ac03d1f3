// GridRadiusGraph on every runner (host in order, host shuffled, CUDA where built and a
// GPU is present): hand-made point sets whose edges are worked out by hand, random point
// sets against a brute-force O(N^2) reference written here from the definition, input
// errors, and the launchers of a build without CUDA.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <set>
#include <utility>
#include <vector>

#include "DeviceRunners.hpp"
#include "TrkaasCatch.hpp"
#include "trkaas/core/Error.hpp"

using namespace trkaas;
using device::GridRadiusGraph;
using test::deviceRunners;
using test::runGraph;

namespace {

using Edge = std::pair<std::int64_t, std::int64_t>;

GridRadiusGraph::Config config(float radius, int k, int gridDims = 3) {
  GridRadiusGraph::Config c;
  c.radius = radius;
  c.maxNeighbours = k;
  c.gridDims = gridDims;
  return c;
}

std::vector<Edge> edgesOf(const EdgeList& cols) {
  REQUIRE(cols.src.size() == cols.dst.size());
  std::vector<Edge> e;
  for (std::size_t i = 0; i < cols.size(); ++i) {
    e.emplace_back(cols.src[i], cols.dst[i]);
  }
  return e;
}

/// The definition, directly: each point keeps its k nearest (distance, then index) among the
/// others within r; the union of those choices as i<j pairs, sorted.
std::vector<Edge> bruteForce(const std::vector<float>& x, std::int64_t dim, float radius, int k) {
  const std::int64_t n = static_cast<std::int64_t>(x.size()) / dim;
  const double r2 = static_cast<double>(radius) * radius;
  std::set<Edge> edges;
  for (std::int64_t i = 0; i < n; ++i) {
    std::vector<std::pair<double, std::int64_t>> near;
    for (std::int64_t j = 0; j < n; ++j) {
      double d2 = 0.0;
      for (std::int64_t d = 0; d < dim; ++d) {
        const double t = static_cast<double>(x[i * dim + d]) - x[j * dim + d];
        d2 += t * t;
      }
      if (j != i && d2 <= r2) {
        near.emplace_back(d2, j);
      }
    }
    std::sort(near.begin(), near.end());
    for (std::size_t m = 0; m < near.size() && m < static_cast<std::size_t>(k); ++m) {
      edges.insert({std::min(i, near[m].second), std::max(i, near[m].second)});
    }
  }
  return {edges.begin(), edges.end()};
}

/// n points in clusters of about 20 (Gaussian, sigma 0.15) in [0, 3]^dim; with `lattice`,
/// coordinates rounded to multiples of 1/8 so that many distances tie exactly.
std::vector<float> clustered(std::int64_t n, std::int64_t dim, std::uint32_t seed,
                             bool lattice = false) {
  std::mt19937 random(seed);
  std::uniform_real_distribution<float> where(0.0f, 3.0f);
  std::normal_distribution<float> spread(0.0f, 0.15f);
  std::vector<float> centre(static_cast<std::size_t>(dim));
  std::vector<float> x(static_cast<std::size_t>(n * dim));
  for (std::int64_t i = 0; i < n; ++i) {
    if (i % 20 == 0) {
      for (float& c : centre) {
        c = where(random);
      }
    }
    for (std::int64_t d = 0; d < dim; ++d) {
      float v = centre[d] + spread(random);
      x[i * dim + d] = lattice ? std::round(v * 8.0f) / 8.0f : v;
    }
  }
  return x;
}

}  // namespace

TEST_CASE("device radius graph: points whose edges are known", "[device][graph]") {
  for (const auto& runner : deviceRunners()) {
    CAPTURE(runner.name);
    SECTION("a row of points one apart, radius exactly 1: neighbours at the radius count") {
      // 0 - 1 - 2 - 3 on the first axis; 0 and 2 are 2 apart.
      const std::vector<float> x = {0, 0, 1, 0, 2, 0, 3, 0};
      const GridRadiusGraph graph(config(1.0f, 8, 2));
      REQUIRE(edgesOf(runGraph(runner, graph, x.data(), 4, 2)) ==
              std::vector<Edge>{{0, 1}, {1, 2}, {2, 3}});
    }
    SECTION("k = 1 with ties that decide: the lowest of the tied indices wins") {
      // Point 0 at the origin; points 1..4 at distance 1 around it (ties for 0), each with a
      // partner 5..8 0.25 further out, so 1..4 do not choose 0: only 0's choice links it.
      // clang-format off
      const std::vector<float> x = {0, 0,
                                    0, 1,     1, 0,     0, -1,     -1, 0,
                                    0, 1.25f, 1.25f, 0, 0, -1.25f, -1.25f, 0};
      // clang-format on
      const GridRadiusGraph graph(config(1.5f, 1, 2));
      REQUIRE(edgesOf(runGraph(runner, graph, x.data(), 9, 2)) ==
              std::vector<Edge>{{0, 1}, {1, 5}, {2, 6}, {3, 7}, {4, 8}});
    }
    SECTION("k = 1 with ties: the lower index wins, and the union keeps the other choices") {
      // Point 0 at the origin, points 1..4 at distance 1 around it (ties), point 5 far away.
      const std::vector<float> x = {0, 0, 1, 0, -1, 0, 0, 1, 0, -1, 9, 9};
      const GridRadiusGraph graph(config(1.5f, 1, 2));
      // 0 keeps 1 (lowest of the tied); 1..4 each keep 0 (closer than each other).
      REQUIRE(edgesOf(runGraph(runner, graph, x.data(), 6, 2)) ==
              std::vector<Edge>{{0, 1}, {0, 2}, {0, 3}, {0, 4}});
    }
    SECTION("identical points are neighbours at distance 0, never of themselves") {
      const std::vector<float> x = {1, 1, 1, 1, 1, 1};
      const GridRadiusGraph graph(config(0.5f, 4, 3));
      REQUIRE(edgesOf(runGraph(runner, graph, x.data(), 2, 3)) == std::vector<Edge>{{0, 1}});
    }
    SECTION("no points, one point, two far apart") {
      const std::vector<float> x = {0, 0, 5, 5};
      const GridRadiusGraph graph(config(1.0f, 4));
      REQUIRE(runGraph(runner, graph, x.data(), 0, 2).size() == 0);
      REQUIRE(runGraph(runner, graph, nullptr, 0, 2).size() == 0);
      REQUIRE(runGraph(runner, graph, x.data(), 1, 2).size() == 0);
      REQUIRE(runGraph(runner, graph, x.data(), 2, 2).size() == 0);
    }
  }
}

TEST_CASE("device radius graph equals the brute-force definition on random points",
          "[device][graph]") {
  struct Setting {
    std::int64_t n, dim;
    float radius;
    int k, gridDims;
    bool lattice;
  };
  // Radii chosen so that points have a few to tens of neighbours and the k cap binds.
  const std::vector<Setting> settings = {
      {2, 8, 0.6f, 4, 3, false},       {17, 8, 0.6f, 4, 3, false},  {300, 8, 0.6f, 4, 3, false},
      {300, 12, 0.75f, 8, 4, false},   {300, 8, 0.4f, 8, 3, false},  // sparse
      {500, 12, 0.8f, 1000, 3, false},                               // k larger than N
      {400, 8, 0.625f, 3, 1, true},  // lattice: exact ties and pairs at the radius
      {400, 12, 0.75f, 5, 8, true},    {250, 3, 0.3f, 2, 8, false},  // gridDims > D
  };
  // Many exact ties: points on a 6 x 6 integer grid in the first two of 8 or 12
  // coordinates (the others 0), repeated points included.
  const auto tiedLattice = [](std::int64_t n, std::int64_t dim, std::uint32_t seed) {
    std::mt19937 random(seed);
    std::uniform_int_distribution<int> cell(0, 5);
    std::vector<float> x(static_cast<std::size_t>(n * dim), 0.0f);
    for (std::int64_t i = 0; i < n; ++i) {
      x[i * dim] = static_cast<float>(cell(random));
      x[i * dim + 1] = static_cast<float>(cell(random));
    }
    return x;
  };
  for (const auto& runner : deviceRunners()) {
    std::uint32_t seed = 11;
    for (const Setting& s : settings) {
      CAPTURE(runner.name, s.n, s.dim, s.radius, s.k, s.gridDims, s.lattice);
      const auto x = clustered(s.n, s.dim, ++seed, s.lattice);
      const GridRadiusGraph graph(config(s.radius, s.k, s.gridDims));
      const auto expected = bruteForce(x, s.dim, s.radius, s.k);
      REQUIRE(edgesOf(runGraph(runner, graph, x.data(), s.n, s.dim)) == expected);
    }
    for (const std::int64_t dim : {8, 12}) {
      for (const int k : {1, 2, 5}) {
        CAPTURE(runner.name, dim, k);
        const auto x = tiedLattice(60, dim, ++seed);
        const GridRadiusGraph graph(config(1.5f, k, 3));
        REQUIRE(edgesOf(runGraph(runner, graph, x.data(), 60, dim)) == bruteForce(x, dim, 1.5f, k));
      }
    }
  }
}

TEST_CASE("device radius graph: configuration and input errors", "[device][graph]") {
  REQUIRE_THROWS_WITH(GridRadiusGraph(config(0.0f, 4)), HasSubstring("radius"));
  REQUIRE_THROWS_WITH(GridRadiusGraph(config(std::numeric_limits<float>::infinity(), 4)),
                      HasSubstring("radius"));
  REQUIRE_THROWS_WITH(GridRadiusGraph(config(1.0f, 0)), HasSubstring("maxNeighbours"));
  REQUIRE_THROWS_WITH(GridRadiusGraph(config(1.0f, 4, 0)), HasSubstring("gridDims"));
  REQUIRE_THROWS_WITH(GridRadiusGraph(config(1.0f, 4, 9)), HasSubstring("gridDims"));
  const GridRadiusGraph graph(config(1.0f, 4));
  for (const auto& runner : deviceRunners()) {
    CAPTURE(runner.name);
    std::vector<float> x(300 * 4, 0.5f);
    x[257 * 4 + 2] = std::numeric_limits<float>::quiet_NaN();
    x[290 * 4 + 1] = std::numeric_limits<float>::infinity();
    REQUIRE_THROWS_WITH(runGraph(runner, graph, x.data(), 300, 4),
                        HasSubstring("point 257, coordinate 2"));
    REQUIRE_THROWS_WITH(runGraph(runner, graph, x.data(), -1, 4), HasSubstring(">= 0"));
    REQUIRE_THROWS_WITH(runGraph(runner, graph, x.data(), 3, 0), HasSubstring("dimension"));
    REQUIRE_THROWS_WITH(runGraph(runner, graph, nullptr, 3, 4), HasSubstring("null"));
  }
}

TEST_CASE("device radius graph launchers say when CUDA is not built in", "[device][graph]") {
  if (device::deviceBuiltIn()) {
    SUCCEED("built with CUDA");
    return;
  }
  REQUIRE(device::deviceCount() == 0);
  const GridRadiusGraph graph(config(1.0f, 4));
  const std::vector<float> x = {0, 0, 1, 0};
  REQUIRE_THROWS_WITH(graph.runOnDeviceFromHost(x.data(), 2, 2),
                      HasSubstring("built without CUDA"));
  REQUIRE_THROWS_WITH(graph.runOnDevice(x.data(), 2, 2, [](std::int64_t) { return nullptr; }, {}),
                      HasSubstring("built without CUDA"));
}

TEST_CASE("the CUDA runner is there when a GPU is required", "[device][gpu]") {
  // On the GPU machine: TRKAAS_REQUIRE_GPU=1 ctest -R device_ (every test then also runs
  // the CUDA launchers; this one fails if they cannot run).
  if (!test::gpuRequired()) {
    TRKAAS_SKIP("TRKAAS_REQUIRE_GPU is not 1: the CUDA runner is used only where available");
    return;
  }
  REQUIRE(device::deviceBuiltIn());
  REQUIRE(device::deviceCount() > 0);
  REQUIRE(deviceRunners().back().name == "cuda");
}
