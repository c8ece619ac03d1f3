// ConnectedComponents on every runner (host in order, host shuffled, CUDA where built and a
// GPU is present): hand-made graphs whose labels are worked out by hand (chains, a star,
// a cycle, isolated hits, minimum size, junctions), input errors, and the launchers of a
// build without CUDA.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "DeviceRunners.hpp"
#include "TrkaasCatch.hpp"
#include "trkaas/core/Error.hpp"

using namespace trkaas;
using device::ConnectedComponents;
using test::deviceRunners;
using test::runComponents;

namespace {

struct Graph {
  std::int64_t n = 0;
  std::vector<std::int64_t> src, dst;
  std::vector<float> score;
  void add(std::int64_t a, std::int64_t b, float s = 1.f) {
    src.push_back(a);
    dst.push_back(b);
    score.push_back(s);
  }
};

ConnectedComponents::Config minSize(int m, bool junctions = false) {
  ConnectedComponents::Config c;
  c.minTrackSize = m;
  c.junctionRemoval = junctions;
  return c;
}

using Labels = std::vector<std::int64_t>;

}  // namespace

TEST_CASE("device components of graphs whose components are known", "[device][tracks]") {
  for (const auto& runner : deviceRunners()) {
    CAPTURE(runner.name);
    const auto run = [&](const Graph& g, ConnectedComponents::Config c) {
      return runComponents(runner, ConnectedComponents(c), g.n, g.src, g.dst, g.score.data());
    };
    SECTION("a chain, a pair, an isolated hit and a cycle") {
      // Components: {0, 3, 5} (chain), {1, 4} (pair), {2} (alone), {6, 7, 8, 9} (cycle).
      Graph g;
      g.n = 10;
      g.add(5, 3);
      g.add(0, 3);
      g.add(4, 1);
      g.add(6, 7);
      g.add(7, 8);
      g.add(8, 9);
      g.add(9, 6);
      REQUIRE(run(g, minSize(1)) == Labels{0, 1, 2, 0, 1, 0, 3, 3, 3, 3});
      REQUIRE(run(g, minSize(3)) == Labels{0, -1, -1, 0, -1, 0, 1, 1, 1, 1});
      REQUIRE(run(g, minSize(4)) == Labels{-1, -1, -1, -1, -1, -1, 0, 0, 0, 0});
      REQUIRE(run(g, minSize(5)) == Labels(10, -1));
    }
    SECTION("a long chain linked from its far end, and a star") {
      // Chain 19 - 18 - ... - 10 given from the high end, so a root must travel far; star
      // with centre 9 and rays 0..8 given in reverse; hit 20 alone.
      Graph g;
      g.n = 21;
      for (std::int64_t h = 19; h > 10; --h) {
        g.add(h, h - 1);
      }
      for (std::int64_t h = 8; h >= 0; --h) {
        g.add(9, h);
      }
      Labels expected(21, 0);
      for (std::int64_t h = 10; h < 20; ++h) {
        expected[h] = 1;
      }
      expected[20] = 2;
      REQUIRE(run(g, minSize(1)) == expected);
      expected[20] = -1;
      REQUIRE(run(g, minSize(2)) == expected);
    }
    SECTION("one long path, edges in random order and orientation") {
      Graph g;
      g.n = 20000;
      std::vector<std::int64_t> edges(static_cast<std::size_t>(g.n - 1));
      for (std::size_t e = 0; e < edges.size(); ++e) {
        edges[e] = static_cast<std::int64_t>(e);
      }
      std::mt19937 random(5);
      std::shuffle(edges.begin(), edges.end(), random);
      for (const std::int64_t e : edges) {
        if (random() % 2 == 0) {
          g.add(e, e + 1);
        } else {
          g.add(e + 1, e);
        }
      }
      REQUIRE(run(g, minSize(1)) == Labels(static_cast<std::size_t>(g.n), 0));
      REQUIRE(run(g, minSize(20000)) == Labels(static_cast<std::size_t>(g.n), 0));
      REQUIRE(run(g, minSize(20001)) == Labels(static_cast<std::size_t>(g.n), -1));
    }
    SECTION("self loops and repeated edges change nothing") {
      Graph g;
      g.n = 4;
      g.add(2, 2);
      g.add(3, 1);
      g.add(1, 3);
      g.add(3, 1);
      REQUIRE(run(g, minSize(1)) == Labels{0, 1, 2, 1});
    }
    SECTION("no hits; hits without edges") {
      Graph g;
      REQUIRE(run(g, minSize(1)).empty());
      g.n = 3;
      REQUIRE(run(g, minSize(1)) == Labels{0, 1, 2});
      REQUIRE(run(g, minSize(2)) == Labels{-1, -1, -1});
    }
    SECTION("junction removal splits two tracks that share a hit") {
      // Track A: 0 -> 1 -> 2 -> 3, track B: 4 -> 2 -> 5 (shares hit 2). At hit 2 the best
      // incoming edge is 1->2 (0.9 over 0.8) and the best outgoing is 2->5 (0.7 over 0.6),
      // so 4->2 and 2->3 go: {0, 1, 2, 5}, {3}, {4}.
      Graph g;
      g.n = 6;
      g.add(0, 1, 0.9f);
      g.add(1, 2, 0.9f);
      g.add(2, 3, 0.6f);
      g.add(4, 2, 0.8f);
      g.add(2, 5, 0.7f);
      REQUIRE(run(g, minSize(1, true)) == Labels{0, 0, 0, 1, 2, 0});
      REQUIRE(run(g, minSize(2, true)) == Labels{0, 0, 0, -1, -1, 0});
      REQUIRE(run(g, minSize(1, false)) == Labels(6, 0));
    }
    SECTION("junction removal: equal scores go to the lower edge index, -0 equals +0") {
      // Hit 0 has two outgoing edges of equal score: edge 0 (0 -> 2) wins, edge 1 (0 -> 1)
      // goes. Hit 3 has two incoming edges scored -0 and +0 (equal): edge 2 (4 -> 3, -0)
      // wins over edge 3 (5 -> 3, +0) though +0 has the larger bits in the other order.
      Graph g;
      g.n = 6;
      g.add(0, 2, 0.5f);
      g.add(0, 1, 0.5f);
      g.add(4, 3, -0.0f);
      g.add(5, 3, 0.0f);
      REQUIRE(run(g, minSize(1, true)) == Labels{0, 1, 0, 2, 2, 3});
    }
  }
}

TEST_CASE("device components: configuration and input errors", "[device][tracks]") {
  REQUIRE_THROWS_WITH(ConnectedComponents(minSize(0)), HasSubstring("minTrackSize"));
  for (const auto& runner : deviceRunners()) {
    CAPTURE(runner.name);
    const ConnectedComponents cc(minSize(1));
    const ConnectedComponents junctions(minSize(1, true));
    Graph g;
    g.n = 3;
    g.add(0, 1);
    g.add(1, 3);
    g.add(2, -1);
    REQUIRE_THROWS_WITH(runComponents(runner, cc, g.n, g.src, g.dst, nullptr),
                        HasSubstring("edge 1 (1 -> 3) has an end outside the 3 hits"));
    Graph nan;
    nan.n = 3;
    nan.add(0, 1);
    nan.add(1, 2, std::numeric_limits<float>::quiet_NaN());
    REQUIRE_THROWS_WITH(runComponents(runner, cc, nan.n, nan.src, nan.dst, nan.score.data()),
                        HasSubstring("edge 1 has a NaN score"));
    REQUIRE_THROWS_WITH(runComponents(runner, junctions, nan.n, nan.src, nan.dst, nullptr),
                        HasSubstring("needs edge scores"));
    REQUIRE_THROWS_WITH(runComponents(runner, cc, -1, {}, {}, nullptr), HasSubstring("negative"));
  }
}

TEST_CASE("device components launchers say when CUDA is not built in", "[device][tracks]") {
  if (device::deviceBuiltIn()) {
    SUCCEED("built with CUDA");
    return;
  }
  const ConnectedComponents cc(minSize(1));
  const std::vector<std::int64_t> src = {0}, dst = {1};
  REQUIRE_THROWS_WITH(cc.runOnDeviceFromHost(2, src.data(), dst.data(), 1, nullptr),
                      HasSubstring("built without CUDA"));
  std::int64_t labels[2] = {};
  REQUIRE_THROWS_WITH(cc.runOnDevice(2, src.data(), dst.data(), 1, nullptr, labels, {}),
                      HasSubstring("built without CUDA"));
}
