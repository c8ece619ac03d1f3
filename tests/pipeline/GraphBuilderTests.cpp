// GraphBuilder: hand-made point sets with known edges, and random point sets against a
// brute-force O(N^2) reference written here from the definition in GraphBuilder.hpp. Every
// check runs on each backend built in (grid always, FAISS when available).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "TrkaasCatch.hpp"
#include "trkaas/core/Error.hpp"
#include "trkaas/pipeline/GraphBuilder.hpp"

using namespace trkaas;

namespace {

using Edge = std::pair<std::int64_t, std::int64_t>;
using Backend = GraphBuilder::Backend;

std::vector<Backend> backends() {
  std::vector<Backend> b = {Backend::kGrid};
  if (GraphBuilder::faissAvailable()) {
    b.push_back(Backend::kFaiss);
  }
  return b;
}

const char* name(Backend b) { return b == Backend::kGrid ? "grid" : "faiss"; }

GraphBuilder::Config config(float radius, int k, Backend backend = Backend::kGrid, int threads = 1,
                            int gridDims = 3) {
  GraphBuilder::Config c;
  c.radius = radius;
  c.maxNeighbours = k;
  c.backend = backend;
  c.threads = threads;
  c.gridDims = gridDims;
  return c;
}

std::vector<Edge> edgesOf(const EdgeList& list) {
  REQUIRE(list.src.size() == list.dst.size());
  REQUIRE(list.size() == list.src.size());
  std::vector<Edge> e;
  for (std::size_t i = 0; i < list.size(); ++i) {
    e.emplace_back(list.src[i], list.dst[i]);
  }
  return e;
}

/// The definition, directly: each point keeps its k nearest (distance, then index) among
/// the others within r; union of those choices as i<j pairs, sorted.
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

/// n points in dim dimensions: half uniform in [-1,1]^dim, half in tight clusters of about
/// 8 (like an embedding), a few exact duplicates, shuffled.
std::vector<float> randomPoints(std::int64_t n, std::int64_t dim, std::uint32_t seed,
                                float clusterWidth = 0.03f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
  std::normal_distribution<float> gauss(0.0f, clusterWidth);
  std::vector<float> x;
  std::vector<float> centre(static_cast<std::size_t>(dim));
  for (std::int64_t i = 0; i < n; ++i) {
    if (i % 2 == 0) {
      for (std::int64_t d = 0; d < dim; ++d) x.push_back(uni(rng));
    } else if (i % 17 == 1 && i >= 2) {
      for (std::int64_t d = 0; d < dim; ++d) x.push_back(x[(i - 2) * dim + d]);  // duplicate
    } else {
      if (i % 16 == 1) {
        for (float& c : centre) c = uni(rng);
      }
      for (std::int64_t d = 0; d < dim; ++d) x.push_back(centre[d] + gauss(rng));
    }
  }
  // Shuffle whole points so that index order says nothing about position.
  std::vector<std::int64_t> perm(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) perm[i] = i;
  std::shuffle(perm.begin(), perm.end(), rng);
  std::vector<float> y(x.size());
  for (std::int64_t i = 0; i < n; ++i) {
    std::copy(x.begin() + perm[i] * dim, x.begin() + (perm[i] + 1) * dim, y.begin() + i * dim);
  }
  return y;
}

/// Points on the first axis of a D=8 space (other coordinates 0, unless given).
std::vector<float> onAxis(const std::vector<std::vector<float>>& coords) {
  std::vector<float> x;
  for (const auto& c : coords) {
    std::vector<float> p(8, 0.0f);
    std::copy(c.begin(), c.end(), p.begin());
    x.insert(x.end(), p.begin(), p.end());
  }
  return x;
}

}  // namespace

TEST_CASE("GraphBuilder refuses a bad configuration, naming the field", "[pipeline][graph]") {
  REQUIRE_THROWS_WITH(GraphBuilder(config(0.0f, 4)), HasSubstring("radius must be a positive"));
  REQUIRE_THROWS_WITH(GraphBuilder(config(-1.0f, 4)), HasSubstring("radius"));
  REQUIRE_THROWS_WITH(GraphBuilder(config(std::numeric_limits<float>::quiet_NaN(), 4)),
                      HasSubstring("radius"));
  REQUIRE_THROWS_WITH(GraphBuilder(config(std::numeric_limits<float>::infinity(), 4)),
                      HasSubstring("radius"));
  REQUIRE_THROWS_WITH(GraphBuilder(config(0.1f, 0)), HasSubstring("maxNeighbours must be >= 1"));
  REQUIRE_THROWS_WITH(GraphBuilder(config(0.1f, 4, Backend::kGrid, 0)),
                      HasSubstring("threads must be >= 1, got 0"));
  REQUIRE_THROWS_WITH(GraphBuilder(config(0.1f, 4, Backend::kGrid, 1, 0)),
                      HasSubstring("gridDims must be between 1 and 8"));
  REQUIRE_THROWS_WITH(GraphBuilder(config(0.1f, 4, Backend::kGrid, 1, 9)), HasSubstring("got 9"));
  CHECK(GraphBuilder(config(0.1f, 4, Backend::kGrid, 1, 8)).config().gridDims == 8);
  REQUIRE_THROWS_AS(GraphBuilder(config(0.1f, 4, Backend::kGrid, -2)), Error);

  const GraphBuilder defaults{GraphBuilder::Config{}};
  CHECK(defaults.config().radius == 0.1f);
  CHECK(defaults.config().maxNeighbours == 64);
  CHECK(defaults.config().threads == 1);
  CHECK(defaults.config().backend == Backend::kGrid);
  CHECK(defaults.config().gridDims == 3);

  if (GraphBuilder::faissAvailable()) {
    const GraphBuilder faiss(config(0.2f, 8, Backend::kFaiss));
    CHECK(faiss.config().backend == Backend::kFaiss);
  } else {
    REQUIRE_THROWS_WITH(GraphBuilder(config(0.1f, 4, Backend::kFaiss)),
                        HasSubstring("built without FAISS"));
  }
}

TEST_CASE("GraphBuilder finds the known neighbours of points on a line", "[pipeline][graph]") {
  // D = 8. Points 0-4 on the first axis; 5 and 6 sit off it in coordinate 6 (outside the
  // grid coordinates), so only the full D-dimensional distance tells them apart.
  const std::vector<float> x = onAxis({{0.0f},
                                       {0.25f},
                                       {0.5f},
                                       {1.0f},
                                       {1.75f},
                                       {0.0f, 0, 0, 0, 0, 0, 0.75f},
                                       {0.25f, 0, 0, 0, 0, 0, 0.75f}});
  for (Backend b : backends()) {
    INFO(name(b));
    SECTION(std::string("radius 0.5, pairs at exactly 0.5 included: ") + name(b)) {
      const auto e = edgesOf(GraphBuilder(config(0.5f, 64, b)).build(x.data(), 7, 8));
      REQUIRE(e == std::vector<Edge>{{0, 1}, {0, 2}, {1, 2}, {2, 3}, {5, 6}});
    }
    SECTION(std::string("radius 0.3: ") + name(b)) {
      const auto e = edgesOf(GraphBuilder(config(0.3f, 64, b)).build(x.data(), 7, 8));
      REQUIRE(e == std::vector<Edge>{{0, 1}, {1, 2}, {5, 6}});
    }
    SECTION(std::string("radius 1, one grid coordinate: ") + name(b)) {
      const auto e = edgesOf(GraphBuilder(config(1.0f, 64, b, 2, 1)).build(x.data(), 7, 8));
      REQUIRE(e == std::vector<Edge>{{0, 1},
                                     {0, 2},
                                     {0, 3},
                                     {0, 5},
                                     {0, 6},
                                     {1, 2},
                                     {1, 3},
                                     {1, 5},
                                     {1, 6},
                                     {2, 3},
                                     {2, 5},
                                     {2, 6},
                                     {3, 4},
                                     {5, 6}});
    }
  }
}

TEST_CASE("GraphBuilder: a pair exactly at the radius is an edge, just beyond it is not",
          "[pipeline][graph]") {
  // (0.375, 0.5) is exactly 0.625 from the origin (a 3-4-5 triangle, all binary-exact).
  const std::vector<float> x = {0.0f, 0.0f, 0.0f, 0.375f, 0.5f, 0.0f};
  for (Backend b : backends()) {
    INFO(name(b));
    CHECK(GraphBuilder(config(0.625f, 4, b)).build(x.data(), 2, 3).size() == 1);
    const float below = std::nextafter(0.625f, 0.0f);
    CHECK(GraphBuilder(config(below, 4, b)).build(x.data(), 2, 3).size() == 0);
  }
}

TEST_CASE("GraphBuilder keeps the k nearest per point, ties to the smaller index",
          "[pipeline][graph]") {
  // Centre 0; satellites 1 (axis 1) and 2 (axis 0) both exactly 0.375 away; their partners
  // 3 and 4 are 0.125 beyond them (0.5 from the centre). Satellites are 0.53 apart.
  const std::vector<float> x = onAxis({{0.0f}, {0.0f, 0.375f}, {0.375f}, {0.0f, 0.5f}, {0.5f}});
  for (Backend b : backends()) {
    INFO(name(b));
    // k = 1: the centre keeps satellite 1 (tie with 2, smaller index); each satellite and
    // partner keep each other.
    CHECK(edgesOf(GraphBuilder(config(0.5f, 1, b)).build(x.data(), 5, 8)) ==
          std::vector<Edge>{{0, 1}, {1, 3}, {2, 4}});
    // k = 2: the centre keeps both satellites; partners keep their satellite and the
    // centre (0.5, exactly the radius): the union holds every choice.
    CHECK(edgesOf(GraphBuilder(config(0.5f, 2, b)).build(x.data(), 5, 8)) ==
          std::vector<Edge>{{0, 1}, {0, 2}, {0, 3}, {0, 4}, {1, 3}, {2, 4}});
  }
  // Both ties in the reference too (the test's own definition agrees with the hand count).
  CHECK(bruteForce(x, 8, 0.5f, 1) == std::vector<Edge>{{0, 1}, {1, 3}, {2, 4}});
}

TEST_CASE("GraphBuilder gives no edges for zero or one point", "[pipeline][graph]") {
  const std::vector<float> one(8, 0.5f);
  for (Backend b : backends()) {
    INFO(name(b));
    const GraphBuilder builder(config(0.1f, 4, b));
    CHECK(builder.build(nullptr, 0, 8).size() == 0);
    CHECK(builder.build(one.data(), 1, 8).size() == 0);
    CHECK(builder.build(one.data(), 0, 8).src.empty());
  }
}

TEST_CASE("GraphBuilder with k larger than N gives the complete graph of close points",
          "[pipeline][graph]") {
  const std::int64_t n = 40;
  std::vector<float> x = randomPoints(n, 8, 7);
  for (float& v : x) v *= 0.01f;  // all within 0.01*2*sqrt(8) < 0.1 of each other
  for (Backend b : backends()) {
    INFO(name(b));
    const auto e = edgesOf(GraphBuilder(config(0.1f, 1000, b)).build(x.data(), n, 8));
    REQUIRE(e.size() == static_cast<std::size_t>(n * (n - 1) / 2));
    CHECK(e.front() == Edge{0, 1});
    CHECK(e.back() == Edge{n - 2, n - 1});
  }
}

TEST_CASE("GraphBuilder matches a brute-force reference on random points", "[pipeline][graph]") {
  struct Case {
    std::int64_t n, dim;
    float radius;
    int k, gridDims;
  };
  // gridDims larger than D is clamped to D (cases with D = 1 and 2).
  const Case cases[] = {{300, 8, 0.15f, 64, 3}, {300, 8, 0.6f, 5, 3},  {500, 12, 0.8f, 3, 2},
                        {400, 3, 0.2f, 2, 3},   {400, 2, 0.1f, 4, 3},  {200, 1, 0.01f, 3, 5},
                        {300, 8, 0.15f, 1, 1},  {300, 8, 1.5f, 10, 8}, {250, 12, 0.05f, 64, 4},
                        {600, 8, 0.3f, 12, 3}};
  std::uint32_t seed = 100;
  for (const Case& c : cases) {
    const auto x = randomPoints(c.n, c.dim, ++seed);
    const auto expected = bruteForce(x, c.dim, c.radius, c.k);
    REQUIRE(!expected.empty());
    for (Backend b : backends()) {
      for (int threads : {1, 2, 3}) {
        INFO(name(b) << " n=" << c.n << " D=" << c.dim << " r=" << c.radius << " k=" << c.k
                     << " gridDims=" << c.gridDims << " threads=" << threads);
        const GraphBuilder builder(config(c.radius, c.k, b, threads, c.gridDims));
        REQUIRE(edgesOf(builder.build(x.data(), c.n, c.dim)) == expected);
      }
    }
  }
}

TEST_CASE("GraphBuilder copes with far outliers and duplicate points", "[pipeline][graph]") {
  auto x = randomPoints(200, 8, 5);
  for (std::int64_t d = 0; d < 8; ++d) {
    x[3 * 8 + d] = 1e30f;  // far outlier: the grid clamps its cell range
    x[10 * 8 + d] = -1e30f;
    x[11 * 8 + d] = -1e30f;  // duplicate of 10: distance 0 is an edge
  }
  const auto expected = bruteForce(x, 8, 0.2f, 6);
  REQUIRE(std::find(expected.begin(), expected.end(), Edge{10, 11}) != expected.end());
  const GraphBuilder grid(config(0.2f, 6, Backend::kGrid, 2));
  REQUIRE(edgesOf(grid.build(x.data(), 200, 8)) == expected);
}

TEST_CASE("GraphBuilder gives identical edges for 1 and 3 threads on a larger event",
          "[pipeline][graph]") {
  for (Backend b : backends()) {
    INFO(name(b));
    // FAISS's flat search is O(N^2): a smaller event is enough for its thread check.
    const std::int64_t n = b == Backend::kGrid ? 30000 : 6000;
    const auto x = randomPoints(n, 8, 42, 0.01f);
    const EdgeList one = GraphBuilder(config(0.05f, 8, b, 1)).build(x.data(), n, 8);
    const EdgeList three = GraphBuilder(config(0.05f, 8, b, 3)).build(x.data(), n, 8);
    REQUIRE(one.size() > static_cast<std::size_t>(n / 2));  // clusters give many edges
    REQUIRE(one.src == three.src);
    REQUIRE(one.dst == three.dst);
    bool ordered = true;
    for (std::size_t e = 0; e < one.size(); ++e) {
      ordered = ordered && one.src[e] < one.dst[e];
      if (e > 0) {
        ordered = ordered && (one.src[e - 1] < one.src[e] ||
                              (one.src[e - 1] == one.src[e] && one.dst[e - 1] < one.dst[e]));
      }
    }
    REQUIRE(ordered);
  }
}

TEST_CASE("GraphBuilder grid and FAISS backends give the same edges", "[pipeline][graph]") {
  if (!GraphBuilder::faissAvailable()) {
    return;  // nothing to compare with (the refusal is tested above)
  }
  for (std::int64_t dim : {2, 8, 12}) {
    const std::int64_t n = 5000;
    auto x = randomPoints(n, dim, static_cast<std::uint32_t>(dim), 0.02f);
    for (float& v : x) v = v * 3.0f + 2.0f;  // off the origin: FAISS's rounding grows
    for (int k : {4, 64}) {
      INFO("D=" << dim << " k=" << k);
      const EdgeList grid =
          GraphBuilder(config(0.15f, k, Backend::kGrid, 2)).build(x.data(), n, dim);
      const EdgeList faiss =
          GraphBuilder(config(0.15f, k, Backend::kFaiss, 2)).build(x.data(), n, dim);
      REQUIRE(grid.size() > 0);
      REQUIRE(grid.src == faiss.src);
      REQUIRE(grid.dst == faiss.dst);
    }
  }
}

TEST_CASE("GraphBuilder refuses NaN or infinite coordinates and bad shapes", "[pipeline][graph]") {
  auto x = randomPoints(20, 8, 3);
  for (Backend b : backends()) {
    INFO(name(b));
    const GraphBuilder builder(config(0.2f, 4, b));
    auto bad = x;
    bad[3 * 8 + 5] = std::numeric_limits<float>::quiet_NaN();
    REQUIRE_THROWS_WITH(builder.build(bad.data(), 20, 8),
                        HasSubstring("point 3, coordinate 5 is nan"));
    bad = x;
    bad[19 * 8 + 7] = -std::numeric_limits<float>::infinity();
    REQUIRE_THROWS_WITH(builder.build(bad.data(), 20, 8),
                        HasSubstring("point 19, coordinate 7 is -inf"));
    REQUIRE_THROWS_AS(builder.build(bad.data(), 20, 8), Error);
    REQUIRE_THROWS_WITH(builder.build(x.data(), 20, 0), HasSubstring("dimension must be >= 1"));
    REQUIRE_THROWS_WITH(builder.build(x.data(), -1, 8), HasSubstring("number of points"));
    REQUIRE_THROWS_WITH(builder.build(nullptr, 3, 8), HasSubstring("points is null"));
  }
}
