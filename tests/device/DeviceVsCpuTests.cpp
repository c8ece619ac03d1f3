// The device module against the CPU stages it must reproduce exactly: GridRadiusGraph
// against trkaas::GraphBuilder (the grid backend) and ConnectedComponents against
// trkaas::TrackBuilder, on random inputs, on every runner (host in order, host shuffled,
// CUDA where built and a GPU is present).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "DeviceRunners.hpp"
#include "TrkaasCatch.hpp"
#include "trkaas/pipeline/GraphBuilder.hpp"
#include "trkaas/pipeline/TrackBuilder.hpp"

using namespace trkaas;
using test::deviceRunners;

namespace {

/// n points in clusters of `perCluster` (Gaussian, sigma 0.1) spread over [0, 4]^dim, a few
/// points far from everything; with `lattice`, coordinates are multiples of 1/16 (exact
/// distance ties, pairs at exactly the radius).
std::vector<float> clustered(std::int64_t n, std::int64_t dim, std::uint32_t seed, bool lattice,
                             int perCluster = 24) {
  std::mt19937 random(seed);
  std::uniform_real_distribution<float> where(0.0f, 4.0f);
  std::normal_distribution<float> spread(0.0f, 0.1f);
  std::vector<float> centre(static_cast<std::size_t>(dim));
  std::vector<float> x(static_cast<std::size_t>(n * dim));
  for (std::int64_t i = 0; i < n; ++i) {
    if (i % perCluster == 0) {
      for (float& c : centre) {
        c = where(random);
      }
    }
    const float far = i % 97 == 5 ? 40.0f : 0.0f;
    for (std::int64_t d = 0; d < dim; ++d) {
      const float v = centre[d] + spread(random) + far;
      x[i * dim + d] = lattice ? std::round(v * 16.0f) / 16.0f : v;
    }
  }
  return x;
}

}  // namespace

TEST_CASE("device radius graph gives the CPU GraphBuilder's edges", "[device][graph][cpu]") {
  struct Setting {
    std::int64_t n, dim;
    float radius;
    int k, gridDims;
    bool lattice;
  };
  // Radii chosen so that points have a few to tens of neighbours and the k cap binds.
  const std::vector<Setting> settings = {
      {0, 8, 0.45f, 8, 3, false},       {1, 12, 0.45f, 8, 3, false},
      {2, 8, 10.0f, 8, 3, false},       {50, 8, 0.45f, 64, 3, false},
      {1000, 8, 0.45f, 8, 3, false},    {1000, 12, 0.55f, 16, 4, false},
      {3000, 8, 0.4f, 4, 2, false},     {3000, 12, 0.6f, 64, 3, false},
      {3000, 8, 0.3f, 8, 3, false},     // sparse
      {800, 12, 0.7f, 2000, 3, false},  // k larger than N
      {1500, 8, 0.5f, 6, 3, true},      // lattice: ties and pairs at exactly the radius
      {1500, 12, 0.5625f, 3, 4, true},  {600, 8, 100.0f, 5, 3, false},  // one cell
      {20000, 12, 0.55f, 16, 3, false},                                 // event-sized
  };
  // Many exact ties: also points on a 6 x 6 integer grid in the first two coordinates.
  std::mt19937 random(3);
  std::uniform_int_distribution<int> cell(0, 5);
  std::vector<std::vector<float>> tied;
  for (const std::int64_t dim : {8, 12}) {
    std::vector<float> x(static_cast<std::size_t>(200 * dim), 0.0f);
    for (std::int64_t i = 0; i < 200; ++i) {
      x[i * dim] = static_cast<float>(cell(random));
      x[i * dim + 1] = static_cast<float>(cell(random));
    }
    tied.push_back(x);
  }
  std::uint32_t seed = 100;
  for (const Setting& s : settings) {
    const auto x = clustered(s.n, s.dim, ++seed, s.lattice);
    GraphBuilder::Config cpuConfig;
    cpuConfig.radius = s.radius;
    cpuConfig.maxNeighbours = s.k;
    cpuConfig.gridDims = s.gridDims;
    const EdgeList cpu = GraphBuilder(cpuConfig).build(x.data(), s.n, s.dim);
    device::GridRadiusGraph::Config config;
    config.radius = s.radius;
    config.maxNeighbours = s.k;
    config.gridDims = s.gridDims;
    const device::GridRadiusGraph graph(config);
    for (const auto& runner : deviceRunners()) {
      CAPTURE(runner.name, s.n, s.dim, s.radius, s.k, s.gridDims, s.lattice);
      const auto edges = test::runGraph(runner, graph, x.data(), s.n, s.dim);
      REQUIRE(edges.size() == cpu.size());
      REQUIRE(edges.src == cpu.src);
      REQUIRE(edges.dst == cpu.dst);
    }
  }
  for (const auto& x : tied) {
    const std::int64_t dim = static_cast<std::int64_t>(x.size()) / 200;
    for (const int k : {1, 3, 8}) {
      GraphBuilder::Config cpuConfig;
      cpuConfig.radius = 1.5f;
      cpuConfig.maxNeighbours = k;
      const EdgeList cpu = GraphBuilder(cpuConfig).build(x.data(), 200, dim);
      device::GridRadiusGraph::Config config;
      config.radius = 1.5f;
      config.maxNeighbours = k;
      for (const auto& runner : deviceRunners()) {
        CAPTURE(runner.name, dim, k);
        const auto edges =
            test::runGraph(runner, device::GridRadiusGraph(config), x.data(), 200, dim);
        REQUIRE(edges.src == cpu.src);
        REQUIRE(edges.dst == cpu.dst);
      }
    }
  }
}

TEST_CASE("device components give the CPU TrackBuilder's labels", "[device][tracks][cpu]") {
  std::mt19937 random(7);
  // Graphs: many short chains (track-like) plus random extra edges; scores drawn from a few
  // values (ties), with -0 and +0 among them; edges in random order and orientation.
  const auto makeGraph = [&](std::int64_t n, std::int64_t chains, std::int64_t extra,
                             std::vector<std::int64_t>& src, std::vector<std::int64_t>& dst,
                             std::vector<float>& score) {
    std::uniform_int_distribution<std::int64_t> hit(0, n - 1);
    std::uniform_int_distribution<int> length(1, 12);
    const float values[] = {0.1f, 0.5f, 0.5f, 0.9f, -0.0f, 0.0f, 1.0f, 0.25f};
    std::uniform_int_distribution<int> pick(0, 7);
    for (std::int64_t c = 0; c < chains; ++c) {
      std::int64_t a = hit(random);
      for (int l = length(random); l > 0; --l) {
        const std::int64_t b = hit(random);
        src.push_back(a);
        dst.push_back(b);
        score.push_back(values[pick(random)]);
        a = b;
      }
    }
    for (std::int64_t e = 0; e < extra; ++e) {
      src.push_back(hit(random));
      dst.push_back(hit(random));
      score.push_back(values[pick(random)]);
    }
    std::vector<std::size_t> perm(src.size());
    for (std::size_t i = 0; i < perm.size(); ++i) {
      perm[i] = i;
    }
    std::shuffle(perm.begin(), perm.end(), random);
    std::vector<std::int64_t> s2, d2;
    std::vector<float> w2;
    for (std::size_t i : perm) {
      s2.push_back(src[i]);
      d2.push_back(dst[i]);
      w2.push_back(score[i]);
    }
    src.swap(s2);
    dst.swap(d2);
    score.swap(w2);
  };
  struct Setting {
    std::int64_t n, chains, extra;
  };
  const std::vector<Setting> settings = {{1, 0, 0},         {5, 0, 3},      {50, 5, 0},
                                         {1000, 100, 0},    {1000, 60, 40}, {5000, 300, 2000},
                                         {20000, 3000, 500}};
  for (const Setting& s : settings) {
    std::vector<std::int64_t> src, dst;
    std::vector<float> score;
    makeGraph(s.n, s.chains, s.extra, src, dst, score);
    const auto numEdges = static_cast<std::int64_t>(src.size());
    for (const int minSize : {1, 2, 3, 5}) {
      for (const bool junctions : {false, true}) {
        TrackBuilder::Config cpuConfig;
        cpuConfig.minTrackSize = minSize;
        cpuConfig.junctionRemoval = junctions;
        const auto cpu =
            TrackBuilder(cpuConfig).build(s.n, src.data(), dst.data(), numEdges, score.data());
        device::ConnectedComponents::Config config;
        config.minTrackSize = minSize;
        config.junctionRemoval = junctions;
        const device::ConnectedComponents cc(config);
        for (const auto& runner : deviceRunners()) {
          CAPTURE(runner.name, s.n, numEdges, minSize, junctions);
          REQUIRE(test::runComponents(runner, cc, s.n, src, dst, score.data()) == cpu);
        }
      }
    }
  }
}
