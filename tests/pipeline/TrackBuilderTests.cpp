#include <cstdint>
#include <random>
#include <vector>

#include "TrkaasCatch.hpp"
#include "trkaas/core/Error.hpp"
#include "trkaas/pipeline/TrackBuilder.hpp"

using namespace trkaas;

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

std::vector<std::int64_t> run(const Graph& g, TrackBuilder::Config c) {
  return TrackBuilder(c).build(g.n, g.src.data(), g.dst.data(),
                               static_cast<std::int64_t>(g.src.size()), g.score.data());
}

TrackBuilder::Config minSize(int m, bool junctions = false) {
  TrackBuilder::Config c;
  c.minTrackSize = m;
  c.junctionRemoval = junctions;
  return c;
}
}  // namespace

TEST_CASE("connected components of a graph whose components are known", "[pipeline][tracks]") {
  // Components: {0, 3, 5} (a chain), {1, 4} (a pair), {2} (alone), {6, 7, 8, 9} (a cycle).
  Graph g;
  g.n = 10;
  g.add(5, 3);
  g.add(0, 3);
  g.add(4, 1);
  g.add(6, 7);
  g.add(7, 8);
  g.add(8, 9);
  g.add(9, 6);
  const auto all = run(g, minSize(1));
  REQUIRE(all == std::vector<std::int64_t>{0, 1, 2, 0, 1, 0, 3, 3, 3, 3});
  const auto three = run(g, minSize(3));
  REQUIRE(three == std::vector<std::int64_t>{0, -1, -1, 0, -1, 0, 1, 1, 1, 1});
  const auto five = run(g, minSize(5));
  REQUIRE(five == std::vector<std::int64_t>(10, -1));
}

TEST_CASE("track building edge cases", "[pipeline][tracks]") {
  Graph g;
  SECTION("no hits") { REQUIRE(run(g, minSize(1)).empty()); }
  SECTION("one hit, no edge") {
    g.n = 1;
    REQUIRE(run(g, minSize(1)) == std::vector<std::int64_t>{0});
    REQUIRE(run(g, minSize(2)) == std::vector<std::int64_t>{-1});
  }
  SECTION("no edge survives: every hit alone") {
    g.n = 4;
    REQUIRE(run(g, minSize(3)) == std::vector<std::int64_t>(4, -1));
  }
  SECTION("duplicate edges and self loops change nothing") {
    g.n = 3;
    g.add(0, 1);
    g.add(0, 1);
    g.add(1, 0);
    g.add(2, 2);
    REQUIRE(run(g, minSize(1)) == std::vector<std::int64_t>{0, 0, 1});
  }
  SECTION("bad input is an error") {
    g.n = 3;
    g.add(0, 3);
    REQUIRE_THROWS_WITH(run(g, minSize(1)), HasSubstring("edge 0 (0 -> 3) has an end outside"));
    g.src = {0};
    g.dst = {1};
    g.score = {std::numeric_limits<float>::quiet_NaN()};
    REQUIRE_THROWS_WITH(run(g, minSize(1)), HasSubstring("NaN score"));
    REQUIRE_THROWS_AS(TrackBuilder(minSize(0)), Error);
  }
}

TEST_CASE("junction removal splits tracks that share a hit", "[pipeline][tracks]") {
  // Two tracks 0->1->2->3 and 4->5->2->6 cross at hit 2; the true continuations score
  // higher (2->3 over 2->6 for the first, and 5->2 loses against 1->2 into hit 2).
  Graph g;
  g.n = 7;
  g.add(0, 1, 0.9f);
  g.add(1, 2, 0.95f);
  g.add(2, 3, 0.9f);
  g.add(4, 5, 0.9f);
  g.add(5, 2, 0.6f);
  g.add(2, 6, 0.7f);
  REQUIRE(run(g, minSize(1)) == std::vector<std::int64_t>{0, 0, 0, 0, 0, 0, 0});
  // With junction removal: 5->2 is not hit 2's best incoming edge, 2->6 not its best
  // outgoing one: {0,1,2,3}, {4,5}, {6}.
  REQUIRE(run(g, minSize(1, true)) == std::vector<std::int64_t>{0, 0, 0, 0, 1, 1, 2});
  g.score.clear();
  REQUIRE_THROWS_WITH(
      TrackBuilder(minSize(1, true)).build(g.n, g.src.data(), g.dst.data(), 6, nullptr),
      HasSubstring("junction removal needs edge scores"));
}

TEST_CASE("components match a reference on random graphs", "[pipeline][tracks]") {
  std::mt19937_64 rng(3);
  for (int trial = 0; trial < 20; ++trial) {
    Graph g;
    g.n = 1 + static_cast<std::int64_t>(rng() % 300);
    const std::int64_t edges = static_cast<std::int64_t>(rng() % (2 * g.n));
    for (std::int64_t e = 0; e < edges; ++e) {
      g.add(static_cast<std::int64_t>(rng() % g.n), static_cast<std::int64_t>(rng() % g.n));
    }
    // Reference: repeated relaxation of min-label over edges until nothing changes.
    std::vector<std::int64_t> ref(g.n);
    for (std::int64_t i = 0; i < g.n; ++i) ref[i] = i;
    for (bool changed = true; changed;) {
      changed = false;
      for (std::size_t e = 0; e < g.src.size(); ++e) {
        const std::int64_t m = std::min(ref[g.src[e]], ref[g.dst[e]]);
        if (ref[g.src[e]] != m || ref[g.dst[e]] != m) {
          ref[g.src[e]] = ref[g.dst[e]] = m;
          changed = true;
        }
      }
    }
    const auto labels = run(g, minSize(1));
    for (std::int64_t a = 0; a < g.n; ++a) {
      for (std::int64_t b = a + 1; b < g.n; b += 7) {
        REQUIRE((labels[a] == labels[b]) == (ref[a] == ref[b]));
      }
    }
  }
}
