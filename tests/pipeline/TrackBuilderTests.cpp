#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>
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

namespace {
TrackBuilder::Config walk(int m) {
  TrackBuilder::Config c;
  c.minTrackSize = m;
  c.method = TrackBuilder::Method::Walk;
  return c;
}

/// The walk's rules (TrackBuilder.hpp) by exhaustive search over every path of a small graph
/// whose edges go from a lower to a higher hit index: an independent reference.
std::vector<std::int64_t> walkByEnumeration(const Graph& g, int minSize) {
  const std::int64_t n = g.n;
  std::vector<std::vector<std::size_t>> adj(n);  // undirected, for the components
  std::vector<int> in(n, 0), out(n, 0);
  for (std::size_t e = 0; e < g.src.size(); ++e) {
    adj[g.src[e]].push_back(e);
    adj[g.dst[e]].push_back(e);
    ++out[g.src[e]];
    ++in[g.dst[e]];
  }
  std::vector<std::int64_t> comp(n, -1);
  for (std::int64_t h = 0; h < n; ++h) {
    if (comp[h] >= 0) continue;
    std::vector<std::int64_t> todo = {h};
    comp[h] = h;
    while (!todo.empty()) {
      const std::int64_t a = todo.back();
      todo.pop_back();
      for (std::size_t e : adj[a]) {
        const std::int64_t b = g.src[e] == a ? g.dst[e] : g.src[e];
        if (comp[b] < 0) {
          comp[b] = h;
          todo.push_back(b);
        }
      }
    }
  }
  std::vector<std::int64_t> label(n, -1);
  std::int64_t next = n;
  for (std::int64_t c = 0; c < n; ++c) {
    std::vector<std::int64_t> hits;
    bool branched = false;
    for (std::int64_t h = 0; h < n; ++h) {
      if (comp[h] != c) continue;
      hits.push_back(h);
      branched |= in[h] > 1 || out[h] > 1;
    }
    if (hits.empty()) continue;
    if (!branched) {
      if (static_cast<int>(hits.size()) >= minSize) {
        for (std::int64_t h : hits) label[h] = c;
      }
      continue;
    }
    while (true) {
      // Every path over untaken hits, by depth-first search from every untaken hit.
      std::vector<std::int64_t> best;
      double bestSum = 0.0;
      std::vector<std::int64_t> path;
      std::function<void(std::int64_t, double)> extend = [&](std::int64_t h, double sum) {
        path.push_back(h);
        const bool better =
            path.size() > best.size() || (path.size() == best.size() &&
                                          (sum > bestSum || (sum == bestSum && path[0] < best[0])));
        if (better) {
          best = path;
          bestSum = sum;
        }
        for (std::size_t e = 0; e < g.src.size(); ++e) {
          if (g.src[e] == h && label[g.dst[e]] < 0) extend(g.dst[e], sum + g.score[e]);
        }
        path.pop_back();
      };
      for (std::int64_t h : hits) {
        if (label[h] < 0) extend(h, 0.0);
      }
      if (static_cast<int>(best.size()) < minSize) break;
      for (std::int64_t h : best) label[h] = next;
      ++next;
    }
    const std::vector<std::int64_t> before = label;
    for (std::size_t e = 0; e < g.src.size(); ++e) {
      const std::int64_t a = g.src[e], b = g.dst[e];
      if (comp[a] != c) continue;
      if (before[a] >= 0 && label[b] < 0) {
        label[b] = before[a];
      } else if (before[b] >= 0 && label[a] < 0) {
        label[a] = before[b];
      }
    }
  }
  std::map<std::int64_t, std::int64_t> number;
  std::vector<std::int64_t> result(n, -1);
  for (std::int64_t h = 0; h < n; ++h) {
    if (label[h] < 0) continue;
    const auto it = number.emplace(label[h], static_cast<std::int64_t>(number.size())).first;
    result[h] = it->second;
  }
  return result;
}
}  // namespace

TEST_CASE("the walk splits merged tracks and keeps double hits and skip edges",
          "[pipeline][tracks]") {
  Graph g;
  SECTION("two tracks joined by a wrong edge become two tracks") {
    // 0->1->2->3->4 and 5->6->7->8->9, joined by a weaker wrong edge 2->8: the paths through
    // it (0,1,2,8,9 and 5,6,7,8,9 share 8, 9) have as many hits but a lower score sum.
    g.n = 10;
    for (std::int64_t a : {0, 1, 2, 3, 5, 6, 7, 8}) g.add(a, a + 1, 3.f);
    g.add(2, 8, 1.f);
    REQUIRE(run(g, minSize(3)) == std::vector<std::int64_t>(10, 0));
    REQUIRE(run(g, walk(3)) == std::vector<std::int64_t>{0, 0, 0, 0, 0, 1, 1, 1, 1, 1});
  }
  SECTION("a second hit on a layer and a skip edge stay in the track") {
    // 0->1->3->4 with a double hit 2 (0->2->3, weaker) and a skip edge 1->4.
    g.n = 5;
    g.add(0, 1, 4.f);
    g.add(1, 3, 4.f);
    g.add(3, 4, 4.f);
    g.add(0, 2, 2.f);
    g.add(2, 3, 2.f);
    g.add(1, 4, 3.f);
    REQUIRE(run(g, walk(3)) == std::vector<std::int64_t>(5, 0));
  }
  SECTION("leftovers join a track through one edge, not chained") {
    // 0->1->2->3->4 and a weaker branch 5->6->2: the branch (2 hits) is too short to be a
    // track; 6 joins through 6->2, 5 touches only 6, which had no track before the pass.
    g.n = 7;
    for (std::int64_t a : {0, 1, 2, 3}) g.add(a, a + 1, 3.f);
    g.add(5, 6, 3.f);
    g.add(6, 2, 1.f);
    REQUIRE(run(g, walk(3)) == std::vector<std::int64_t>{0, 0, 0, 0, 0, -1, 0});
    REQUIRE(run(g, walk(6)) == std::vector<std::int64_t>(7, -1));
  }
  SECTION("chains without branches are the components") {
    g.n = 9;
    g.add(0, 4, 1.f);
    g.add(4, 8, 1.f);
    g.add(1, 2, 1.f);
    g.add(5, 5, 1.f);  // a self loop is no branch
    REQUIRE(run(g, walk(3)) == run(g, minSize(3)));
    REQUIRE(run(g, walk(2)) == run(g, minSize(2)));
  }
  SECTION("errors") {
    g.n = 3;
    g.add(0, 1);
    g.add(1, 2);
    g.add(2, 0);
    g.add(0, 2);
    REQUIRE_THROWS_WITH(run(g, walk(1)), HasSubstring("cycle of edges"));
    REQUIRE_THROWS_WITH(TrackBuilder(walk(1)).build(g.n, g.src.data(), g.dst.data(), 2, nullptr),
                        HasSubstring("the walk needs edge scores"));
    TrackBuilder::Config both = walk(3);
    both.junctionRemoval = true;
    REQUIRE_THROWS_WITH(TrackBuilder{both}, HasSubstring("does not combine with junction"));
    REQUIRE(TrackBuilder::methodFromName("walk") == TrackBuilder::Method::Walk);
    REQUIRE_THROWS_WITH(TrackBuilder::methodFromName("cc"), HasSubstring("unknown track builder"));
  }
}

TEST_CASE("the walk matches an exhaustive search on random graphs", "[pipeline][tracks]") {
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<float> score(-2.f, 8.f);
  int branchedGraphs = 0;
  for (int trial = 0; trial < 200; ++trial) {
    Graph g;
    g.n = 2 + static_cast<std::int64_t>(rng() % 11);
    const auto edges = static_cast<std::int64_t>(rng() % (2 * g.n));
    for (std::int64_t e = 0; e < edges; ++e) {
      std::int64_t a = static_cast<std::int64_t>(rng() % g.n);
      std::int64_t b = static_cast<std::int64_t>(rng() % g.n);
      if (a == b) continue;
      g.add(std::min(a, b), std::max(a, b), score(rng));  // oriented: lower to higher index
    }
    std::vector<int> in(g.n, 0), out(g.n, 0);
    for (std::size_t e = 0; e < g.src.size(); ++e) ++out[g.src[e]], ++in[g.dst[e]];
    branchedGraphs += std::any_of(in.begin(), in.end(), [](int d) { return d > 1; });
    for (int m : {1, 3}) {
      INFO("trial " << trial << ", min size " << m);
      REQUIRE(run(g, walk(m)) == walkByEnumeration(g, m));
    }
  }
  REQUIRE(branchedGraphs > 100);  // the walk, not only plain chains, was compared
}

namespace {
/// The walk as first written (commit 0522795): every path taken recomputes the longest
/// paths of its whole component and rescans it for the best start. Kept as the reference
/// the incremental version must match label for label, on graphs too big to enumerate.
std::vector<std::int64_t> walkByRescan(const Graph& g, int minSize) {
  const auto n = static_cast<std::size_t>(g.n);
  const auto numEdges = static_cast<std::int64_t>(g.src.size());
  const std::int64_t* src = g.src.data();
  const std::int64_t* dst = g.dst.data();
  std::vector<std::int64_t> parent(n), size(n, 1);
  std::iota(parent.begin(), parent.end(), 0);
  const auto find = [&](std::int64_t x) {
    while (parent[x] != x) x = parent[x] = parent[parent[x]];
    return x;
  };
  for (std::int64_t e = 0; e < numEdges; ++e) {
    std::int64_t a = find(src[e]), b = find(dst[e]);
    if (a == b) continue;
    if (size[a] < size[b]) std::swap(a, b);
    parent[b] = a;
    size[a] += size[b];
  }
  std::vector<std::int32_t> in(n, 0), out(n, 0);
  for (std::int64_t e = 0; e < numEdges; ++e) {
    if (src[e] == dst[e]) continue;
    ++out[src[e]];
    ++in[dst[e]];
  }
  std::vector<char> branched(n, 0);
  for (std::size_t h = 0; h < n; ++h) {
    if (in[h] > 1 || out[h] > 1) branched[find(h)] = 1;
  }
  std::vector<std::int64_t> labels(n, -1);
  for (std::size_t h = 0; h < n; ++h) {
    const std::int64_t root = find(h);
    if (!branched[root] && size[root] >= minSize) labels[h] = root;
  }
  std::vector<std::int64_t> first(n + 1, 0);
  for (std::int64_t e = 0; e < numEdges; ++e) {
    if (src[e] != dst[e] && branched[find(src[e])]) ++first[src[e] + 1];
  }
  std::partial_sum(first.begin(), first.end(), first.begin());
  std::vector<std::int64_t> next(first.begin(), first.end() - 1), edgeOf(first.back());
  for (std::int64_t e = 0; e < numEdges; ++e) {
    if (src[e] != dst[e] && branched[find(src[e])]) edgeOf[next[src[e]]++] = e;
  }
  std::vector<std::int64_t> members, groupStart;
  std::vector<std::int64_t> start(n + 1, 0);
  for (std::size_t h = 0; h < n; ++h) {
    if (branched[find(h)]) ++start[find(h) + 1];
  }
  std::partial_sum(start.begin(), start.end(), start.begin());
  std::vector<std::int64_t> fill(start.begin(), start.end() - 1), byRoot(start.back());
  for (std::size_t h = 0; h < n; ++h) {
    if (branched[find(h)]) byRoot[fill[find(h)]++] = static_cast<std::int64_t>(h);
  }
  std::vector<std::int32_t> pending(in);
  std::vector<std::int64_t> stack;
  for (std::size_t r = 0; r < n; ++r) {
    if (start[r] == start[r + 1]) continue;
    groupStart.push_back(static_cast<std::int64_t>(members.size()));
    for (std::int64_t k = start[r]; k < start[r + 1]; ++k) {
      if (pending[byRoot[k]] == 0) stack.push_back(byRoot[k]);
    }
    while (!stack.empty()) {
      const std::int64_t h = stack.back();
      stack.pop_back();
      members.push_back(h);
      for (std::int64_t k = first[h]; k < first[h + 1]; ++k) {
        if (--pending[dst[edgeOf[k]]] == 0) stack.push_back(dst[edgeOf[k]]);
      }
    }
    if (static_cast<std::int64_t>(members.size()) - groupStart.back() != start[r + 1] - start[r]) {
      throw std::runtime_error(
          "TrackBuilder: the walk needs edges oriented outwards, but a cycle of edges joins "
          "hits of the component of hit " +
          std::to_string(byRoot[start[r]]));
    }
  }
  groupStart.push_back(static_cast<std::int64_t>(members.size()));
  std::vector<std::int32_t> length(n, 0);
  std::vector<double> weight(n, 0.0);
  std::vector<std::int64_t> onward(n, -1);
  std::int64_t nextLabel = g.n;
  for (std::size_t c = 0; c + 1 < groupStart.size(); ++c) {
    while (true) {
      std::int64_t best = -1;
      for (std::int64_t k = groupStart[c + 1] - 1; k >= groupStart[c]; --k) {
        const std::int64_t h = members[k];
        if (labels[h] >= 0) continue;
        std::int32_t len = 1;
        double sum = 0.0;
        std::int64_t to = -1;
        for (std::int64_t j = first[h]; j < first[h + 1]; ++j) {
          const std::int64_t e = edgeOf[j], t = dst[e];
          if (labels[t] >= 0) continue;
          const std::int32_t l = length[t] + 1;
          const double w = weight[t] + static_cast<double>(g.score[e]);
          if (l > len || (l == len && w > sum)) {
            len = l;
            sum = w;
            to = t;
          }
        }
        length[h] = len;
        weight[h] = sum;
        onward[h] = to;
        if (best < 0 || len > length[best] || (len == length[best] && sum > weight[best]) ||
            (len == length[best] && sum == weight[best] && h < best)) {
          best = h;
        }
      }
      if (best < 0 || length[best] < minSize) break;
      for (std::int64_t h = best; h >= 0; h = onward[h]) labels[h] = nextLabel;
      ++nextLabel;
    }
  }
  const std::vector<std::int64_t> before(labels);
  for (std::int64_t e = 0; e < numEdges; ++e) {
    const std::int64_t a = src[e], b = dst[e];
    if (a == b || !branched[find(a)]) continue;
    if (before[a] >= 0 && labels[b] < 0) {
      labels[b] = before[a];
    } else if (before[b] >= 0 && labels[a] < 0) {
      labels[a] = before[b];
    }
  }
  std::vector<std::int64_t> number(2 * n, -1), result(n, -1);
  std::int64_t tracks = 0;
  for (std::size_t h = 0; h < n; ++h) {
    if (labels[h] < 0) continue;
    if (number[labels[h]] < 0) number[labels[h]] = tracks++;
    result[h] = number[labels[h]];
  }
  return result;
}

/// A detector-like random graph: hits in layers, edges outwards to the next one or two
/// layers among nearby hits, so that tracks merge into components of many paths; scores
/// from few values (ties of length and sum), in shuffled edge order, with duplicates.
Graph layeredGraph(std::mt19937_64& rng, std::int64_t layers, std::int64_t perLayer,
                   double edgesPerHit) {
  Graph g;
  g.n = layers * perLayer;
  const float values[] = {-1.f, 0.f, 0.5f, 1.f, 1.f, 2.f, 0.25f};
  std::uniform_real_distribution<float> uniform(-2.f, 8.f);
  const bool fewValues = rng() % 2 == 0;
  const auto edges = static_cast<std::int64_t>(edgesPerHit * static_cast<double>(g.n));
  for (std::int64_t e = 0; e < edges; ++e) {
    const std::int64_t layer = static_cast<std::int64_t>(rng() % (layers - 1));
    const std::int64_t skip = std::min<std::int64_t>(layers - 1 - layer, 1 + (rng() % 5 == 0));
    const std::int64_t pos = static_cast<std::int64_t>(rng() % perLayer);
    const std::int64_t near =
        std::clamp<std::int64_t>(pos + static_cast<std::int64_t>(rng() % 5) - 2, 0, perLayer - 1);
    const float s = fewValues ? values[rng() % 7] : uniform(rng);
    g.add(layer * perLayer + pos, (layer + skip) * perLayer + near, s);
  }
  for (std::int64_t k = static_cast<std::int64_t>(g.src.size()) - 1; k > 0; --k) {
    const auto j = static_cast<std::size_t>(rng() % static_cast<std::uint64_t>(k + 1));
    std::swap(g.src[k], g.src[j]);
    std::swap(g.dst[k], g.dst[j]);
    std::swap(g.score[k], g.score[j]);
  }
  return g;
}
}  // namespace

TEST_CASE("the walk matches its first (rescanning) version on large random graphs",
          "[pipeline][tracks]") {
  std::mt19937_64 rng(23);
  std::int64_t paths = 0;
  std::int64_t largest = 0;
  for (int trial = 0; trial < 60; ++trial) {
    const std::int64_t layers = 3 + static_cast<std::int64_t>(rng() % 14);
    const std::int64_t perLayer = 1 + static_cast<std::int64_t>(rng() % 120);
    const double edgesPerHit = 0.3 + 0.1 * static_cast<double>(rng() % 12);
    Graph g = layeredGraph(rng, layers, perLayer, edgesPerHit);
    if (trial % 10 == 0) g.add(0, 0, 1.f);  // a self loop
    const auto components = run(g, minSize(1));
    std::vector<std::int64_t> count(g.n, 0);
    for (std::int64_t c : components) largest = std::max(largest, ++count[c]);
    for (int m : {1, 3, 5}) {
      INFO("trial " << trial << ", " << g.n << " hits, " << g.src.size() << " edges, min size "
                    << m);
      const auto labels = run(g, walk(m));
      REQUIRE(labels == walkByRescan(g, m));
      paths += *std::max_element(labels.begin(), labels.end()) + 1;
    }
  }
  REQUIRE(largest > 500);  // components of many paths were split
  REQUIRE(paths > 10000);
}

TEST_CASE("the walk names the same cycle as its first version", "[pipeline][tracks]") {
  // Components {2, 3, 4, 5} (root 3, a cycle 4->5->4) and {0, 7, 8} (root 7, a cycle
  // 7->8->7): the one of lower root is named, by its lowest hit, whichever edges come first.
  for (int order = 0; order < 2; ++order) {
    Graph g;
    g.n = 9;
    const auto first = [&] { g.add(3, 4), g.add(4, 5), g.add(5, 4), g.add(2, 4); };
    const auto second = [&] { g.add(7, 8), g.add(8, 7), g.add(8, 0); };
    if (order == 0) first(), second();
    if (order == 1) second(), first();
    const auto message = [](auto&& call) {
      try {
        call();
      } catch (const std::runtime_error& e) {
        return std::string(e.what());
      }
      return std::string("no error");
    };
    const std::string expected = message([&] { walkByRescan(g, 3); });
    REQUIRE_THAT(expected, HasSubstring("cycle of edges joins hits of the component of hit 2"));
    REQUIRE(message([&] { run(g, walk(3)); }) == expected);
  }
}

TEST_CASE("the walk refuses infinite scores, which it would add up", "[pipeline][tracks]") {
  Graph g;
  g.n = 4;
  g.add(0, 1, 1.f);
  g.add(1, 2, std::numeric_limits<float>::infinity());
  g.add(1, 3, 1.f);
  REQUIRE_THROWS_WITH(run(g, walk(3)), HasSubstring("edge 1 has an infinite score"));
  REQUIRE(run(g, minSize(3)) == std::vector<std::int64_t>(4, 0));  // components need none
}

namespace {
/// Hits on the x axis at x = 1, 2, ...: the distance from the origin grows with the index.
std::vector<float> onAxis(std::int64_t n) {
  std::vector<float> xyz(static_cast<std::size_t>(3 * n), 0.f);
  for (std::int64_t h = 0; h < n; ++h) xyz[3 * h] = static_cast<float>(h + 1);
  return xyz;
}
void extend(const Graph& g, std::vector<std::int64_t>& labels, const std::vector<float>& xyz) {
  TrackBuilder::extend(labels, xyz.data(), g.src.data(), g.dst.data(),
                       static_cast<std::int64_t>(g.src.size()), g.score.data());
}
}  // namespace

TEST_CASE("tracks grow at their ends along the extension edges", "[pipeline][tracks]") {
  Graph g;
  g.n = 10;
  g.add(4, 5, 1.0f);
  g.add(4, 6, 2.0f);  // track 0 leaves its outer hit 4 by its best edge, to 6
  g.add(6, 7, 5.0f);  // 7 is track 1's: never taken
  g.add(6, 9, 0.5f);  // so on from 6 to 9, the only free hit left beyond
  g.add(1, 2, 0.3f);  // inwards from hit 2: a tie, the first edge (from 1) wins
  g.add(0, 2, 0.3f);
  g.add(0, 1, -2.0f);  // any score of an edge given may extend: then from 1 to 0
  g.add(8, 9, 3.0f);   // track 1's outer hit: 9 is taken by then (track 0 went first)
  g.add(5, 7, 0.1f);   // track 1 inwards from 7: to 5, still free
  const std::vector<float> xyz = onAxis(g.n);
  std::vector<std::int64_t> labels = {-1, -1, 0, 0, 0, -1, -1, 1, 1, -1};
  extend(g, labels, xyz);
  REQUIRE(labels == std::vector<std::int64_t>{0, 0, 0, 0, 0, 1, 0, 1, 1, 0});

  SECTION("no edge, no track: nothing changes") {
    std::vector<std::int64_t> none = {-1, -1, -1};
    Graph empty;
    TrackBuilder::extend(none, onAxis(3).data(), nullptr, nullptr, 0, nullptr);
    REQUIRE(none == std::vector<std::int64_t>{-1, -1, -1});
  }
  SECTION("errors name the edge") {
    Graph bad;
    bad.add(0, 7, 1.f);
    std::vector<std::int64_t> l = {0, -1};
    REQUIRE_THROWS_WITH(extend(bad, l, onAxis(2)), HasSubstring("extension edge 0 (0 -> 7)"));
    Graph nan;
    nan.add(0, 1, std::numeric_limits<float>::quiet_NaN());
    REQUIRE_THROWS_WITH(extend(nan, l, onAxis(2)), HasSubstring("NaN score"));
  }
}

TEST_CASE("the extension keeps tracks, grows only from their ends and stops at nothing to take",
          "[pipeline][tracks]") {
  std::mt19937_64 rng(23);
  std::uniform_real_distribution<float> score(-3.f, 3.f);
  int grown = 0;
  for (int trial = 0; trial < 300; ++trial) {
    Graph g;
    g.n = 3 + static_cast<std::int64_t>(rng() % 14);
    const auto edges = static_cast<std::int64_t>(rng() % (3 * g.n));
    for (std::int64_t e = 0; e < edges; ++e) {
      const auto a = static_cast<std::int64_t>(rng() % g.n);
      const auto b = static_cast<std::int64_t>(rng() % g.n);
      if (a != b) g.add(std::min(a, b), std::max(a, b), score(rng));  // oriented outwards
    }
    std::vector<std::int64_t> before(static_cast<std::size_t>(g.n), -1);
    const auto tracks = static_cast<std::int64_t>(rng() % 4);
    for (auto& l : before) {
      if (rng() % 3 == 0 && tracks > 0) l = static_cast<std::int64_t>(rng() % tracks);
    }
    std::vector<std::int64_t> after = before;
    extend(g, after, onAxis(g.n));
    std::map<std::int64_t, std::pair<std::int64_t, std::int64_t>> ends;  // inner, outer hit
    for (std::int64_t h = 0; h < g.n; ++h) {
      if (before[h] >= 0) REQUIRE(after[h] == before[h]);  // a track keeps its hits
      if (after[h] < 0) continue;
      auto it = ends.find(after[h]);
      if (it == ends.end()) {
        ends[after[h]] = {h, h};
      } else {
        it->second.second = h;
      }
    }
    // Each new hit was reached from one of its track's hits by an edge: outwards from a
    // lower index, inwards from a higher one.
    for (std::int64_t h = 0; h < g.n; ++h) {
      if (before[h] >= 0 || after[h] < 0) continue;
      ++grown;
      bool reached = false;
      for (std::size_t e = 0; e < g.src.size(); ++e) {
        const std::int64_t other = g.src[e] == h ? g.dst[e] : g.dst[e] == h ? g.src[e] : -1;
        if (other >= 0 && after[other] == after[h]) reached = true;
      }
      REQUIRE(reached);
    }
    // Nothing left to take at either end.
    for (const auto& [track, io] : ends) {
      for (std::size_t e = 0; e < g.src.size(); ++e) {
        if (g.src[e] == io.second) REQUIRE(after[g.dst[e]] >= 0);
        if (g.dst[e] == io.first) REQUIRE(after[g.src[e]] >= 0);
      }
    }
  }
  REQUIRE(grown > 50);  // the cases above were exercised
}

TEST_CASE("the walk with a turn limit keeps a path from crossing into another particle",
          "[pipeline][tracks]") {
  // Particle P: hits 0-5 on a straight line at 45 degrees in r-z (r = z = 10, 20, ... 60).
  // Particle Q: hits 6-8 at z = -5, r = 10, 20, 30 (straight along r), and a wrong edge from
  // its last hit into P's hit 3. Without a limit the path Q, Q, Q, P3, P4, P5 (6 hits, the
  // wrong edge scored 2) beats P's own 6 hits; with a limit of 0.1 rad it cannot: the path
  // would turn by 1.35 rad at hit 8 and 0.57 rad at hit 3. So P's path is whole and Q keeps
  // its own 3 hits.
  Graph g;
  g.n = 9;
  std::vector<float> xyz;
  for (int i = 0; i < 6; ++i) xyz.insert(xyz.end(), {10.f * (i + 1), 0.f, 10.f * (i + 1)});
  for (int j = 0; j < 3; ++j) xyz.insert(xyz.end(), {10.f * (j + 1), 0.f, -5.f});
  for (int i = 0; i < 5; ++i) g.add(i, i + 1, 1.f);
  g.add(6, 7, 1.f);
  g.add(7, 8, 1.f);
  g.add(8, 3, 2.f);
  TrackBuilder::Config c = walk(3);
  const auto build = [&](const TrackBuilder::Config& config) {
    return TrackBuilder(config).build(g.n, g.src.data(), g.dst.data(),
                                      static_cast<std::int64_t>(g.src.size()), g.score.data(),
                                      xyz.data());
  };
  REQUIRE(build(c) == std::vector<std::int64_t>{0, 0, 0, 1, 1, 1, 1, 1, 1});
  c.maxTurn = 0.1;
  REQUIRE(build(c) == std::vector<std::int64_t>{0, 0, 0, 0, 0, 0, 1, 1, 1});
  c.maxTurn = 1.4;  // wider than both turns: as without a limit
  REQUIRE(build(c) == std::vector<std::int64_t>{0, 0, 0, 1, 1, 1, 1, 1, 1});

  SECTION("errors") {
    c.maxTurn = 0.1;
    REQUIRE_THROWS_WITH(
        TrackBuilder(c).build(g.n, g.src.data(), g.dst.data(),
                              static_cast<std::int64_t>(g.src.size()), g.score.data()),
        HasSubstring("turn limit needs the hits' positions"));
    c.maxTurn = 4.0;
    REQUIRE_THROWS_WITH(TrackBuilder{c}, HasSubstring("maxTurn must lie in [0, pi]"));
    TrackBuilder::Config components = minSize(3);
    components.maxTurn = 0.1;
    REQUIRE_THROWS_WITH(TrackBuilder{components}, HasSubstring("for the walk only"));
  }
}

TEST_CASE("the walk with a turn limit of pi gives the walk's tracks on random graphs",
          "[pipeline][tracks]") {
  // Every turn is at most pi: every successor is eligible, and the recomputed paths must be
  // those of the incremental PathExtraction.
  std::mt19937_64 rng(31);
  std::uniform_real_distribution<float> score(-2.f, 8.f), coord(-100.f, 100.f);
  int branched = 0;
  for (int trial = 0; trial < 200; ++trial) {
    Graph g;
    g.n = 3 + static_cast<std::int64_t>(rng() % 20);
    std::vector<float> xyz;
    for (std::int64_t h = 0; h < g.n; ++h)
      xyz.insert(xyz.end(), {coord(rng), coord(rng), coord(rng)});
    const auto edges = static_cast<std::int64_t>(rng() % (2 * g.n));
    for (std::int64_t e = 0; e < edges; ++e) {
      const auto a = static_cast<std::int64_t>(rng() % g.n);
      const auto b = static_cast<std::int64_t>(rng() % g.n);
      if (a != b) g.add(std::min(a, b), std::max(a, b), score(rng));
    }
    for (const int m : {1, 2, 3}) {
      TrackBuilder::Config c = walk(m);
      const std::vector<std::int64_t> plain = TrackBuilder(c).build(
          g.n, g.src.data(), g.dst.data(), static_cast<std::int64_t>(g.src.size()), g.score.data());
      c.maxTurn = M_PI;
      const std::vector<std::int64_t> limited = TrackBuilder(c).build(
          g.n, g.src.data(), g.dst.data(), static_cast<std::int64_t>(g.src.size()), g.score.data(),
          xyz.data());
      REQUIRE(limited == plain);
      if (plain != run(g, minSize(m))) ++branched;
    }
  }
  REQUIRE(branched > 20);  // the walk split components, so the paths were exercised
}

namespace {
/// Hits of a helix from the origin (B along z): transverse radius of curvature `rad` mm,
/// direction `phi0` at the origin, charge sign `q`, z = z0 + cot * s; one hit at each
/// transverse distance in `radii` (mm), as x, y, z floats appended to `xyz`.
void helixHits(std::vector<float>& xyz, double rad, double phi0, int q, double z0, double cot,
               const std::vector<double>& radii) {
  for (const double r : radii) {
    const double alpha = 2.0 * std::asin(r / (2.0 * rad));  // turning angle at distance r
    const double lx = rad * std::sin(alpha), ly = q * rad * (1.0 - std::cos(alpha));
    xyz.push_back(static_cast<float>(lx * std::cos(phi0) - ly * std::sin(phi0)));
    xyz.push_back(static_cast<float>(lx * std::sin(phi0) + ly * std::cos(phi0)));
    xyz.push_back(static_cast<float>(z0 + cot * rad * alpha));
  }
}
}  // namespace

TEST_CASE("helix stitching joins the pieces of one helix and keeps others apart",
          "[pipeline][tracks]") {
  // Particle A (0.8 GeV in 2 T: 1333 mm): a track of 6 hits, then two pieces of 3. Particle
  // B, 0.02 rad away at the origin: two pieces of 3 (no track). Three scattered hits make a
  // piece of their own.
  std::vector<float> xyz;
  const double radA = 800.0 / 0.6, radB = 1200.0 / 0.6;
  helixHits(xyz, radA, 0.4, 1, 5.0, 0.3, {32, 72, 116, 172, 260, 360});  // hits 0-5
  helixHits(xyz, radA, 0.4, 1, 5.0, 0.3, {500, 660, 820});               // 6-8
  helixHits(xyz, radA, 0.4, 1, 5.0, 0.3, {900, 960, 1020});              // 9-11
  helixHits(xyz, radB, 0.42, -1, -20.0, 0.31, {500, 660, 820});          // 12-14
  helixHits(xyz, radB, 0.42, -1, -20.0, 0.31, {900, 960, 1020});         // 15-17
  for (const float v : {300.f, -40.f, 100.f, 420.f, 10.f, -300.f, 610.f, 200.f, 50.f}) {
    xyz.push_back(v);  // hits 18-20
  }
  std::vector<std::int64_t> labels(21, -1), pieces(21, -1);
  for (int h = 0; h < 6; ++h) labels[h] = 0;
  const int pieceOf[] = {0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4};
  for (int h = 6; h < 21; ++h) pieces[h] = pieceOf[h - 6];
  // The helix residuals of this construction are float rounding (< 0.01 mm): the limits
  // only have to tell the particles apart (B's hits lie mm to cm from A's helix).
  const std::vector<std::int64_t> out =
      TrackBuilder::stitch(labels, pieces, xyz.data(), 3.0, 15.0, 6);
  std::vector<std::int64_t> expect(21, -1);
  for (int h = 0; h < 12; ++h) expect[h] = 0;   // A: the track and both its pieces
  for (int h = 12; h < 18; ++h) expect[h] = 1;  // B: its two pieces (6 hits)
  CHECK(out == expect);                         // the scattered piece: alone, so dropped

  // With 7 hits at least, B's pair is too small; A still has 12.
  const std::vector<std::int64_t> seven =
      TrackBuilder::stitch(labels, pieces, xyz.data(), 3.0, 15.0, 7);
  for (int h = 12; h < 18; ++h) expect[h] = -1;
  CHECK(seven == expect);

  // A's first piece moved by 60 mm in z: it no longer continues the helix, so the track
  // joins A's second piece past it, and the moved piece, alone, is dropped.
  std::vector<float> moved = xyz;
  for (int h = 6; h < 9; ++h) moved[3 * h + 2] += 60.f;
  const std::vector<std::int64_t> skip =
      TrackBuilder::stitch(labels, pieces, moved.data(), 3.0, 15.0, 6);
  std::vector<std::int64_t> expectSkip(21, -1);
  for (int h : {0, 1, 2, 3, 4, 5, 9, 10, 11}) expectSkip[h] = 0;
  for (int h = 12; h < 18; ++h) expectSkip[h] = 1;
  CHECK(skip == expectSkip);

  // A tighter x-y limit than B's offset from A still keeps A whole (its own residuals are
  // rounding); a limit below the rounding joins nothing, and lone pieces go.
  const std::vector<std::int64_t> tight =
      TrackBuilder::stitch(labels, pieces, xyz.data(), 1e-9, 15.0, 6);
  std::vector<std::int64_t> expectTight(21, -1);
  for (int h = 0; h < 6; ++h) expectTight[h] = 0;
  CHECK(tight == expectTight);
}

TEST_CASE("helix stitching refuses inconsistent inputs", "[pipeline][tracks]") {
  std::vector<float> xyz(9, 1.f);
  std::vector<std::int64_t> labels(3, -1), pieces(3, -1);
  CHECK_THROWS_AS(
      TrackBuilder::stitch(labels, std::vector<std::int64_t>(2, -1), xyz.data(), 1, 1, 3), Error);
  labels[1] = 0;
  pieces[1] = 0;
  CHECK_THROWS_WITH(TrackBuilder::stitch(labels, pieces, xyz.data(), 1, 1, 3),
                    HasSubstring("hit 1 is in a track and in a piece"));
  pieces[1] = -1;
  CHECK_THROWS_AS(TrackBuilder::stitch(labels, pieces, xyz.data(), 0.0, 1, 3), Error);
  TrackBuilder::Config c;
  c.method = TrackBuilder::Method::Walk;
  c.stitchMaxXy = 2.0;  // without stitchMaxZ
  CHECK_THROWS_WITH(TrackBuilder{c}, HasSubstring("both be > 0"));
  c.stitchMaxZ = 10.0;
  CHECK_NOTHROW(TrackBuilder{c});
}
