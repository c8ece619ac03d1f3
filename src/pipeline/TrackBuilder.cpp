#include "trkaas/pipeline/TrackBuilder.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <queue>
#include <string>
#include <utility>

#include "trkaas/core/Error.hpp"

namespace trkaas {

namespace {

/// Union-find with union by size and path halving: near-linear connected components.
class DisjointSets {
 public:
  explicit DisjointSets(std::int64_t n)
      : m_parent(static_cast<std::size_t>(n)), m_size(m_parent.size(), 1) {
    std::iota(m_parent.begin(), m_parent.end(), 0);
  }
  std::int64_t find(std::int64_t x) {
    while (m_parent[x] != x) {
      m_parent[x] = m_parent[m_parent[x]];
      x = m_parent[x];
    }
    return x;
  }
  void unite(std::int64_t a, std::int64_t b) {
    a = find(a);
    b = find(b);
    if (a == b) return;
    if (m_size[a] < m_size[b]) std::swap(a, b);
    m_parent[b] = a;
    m_size[a] += m_size[b];
  }
  std::int64_t sizeOf(std::int64_t x) { return m_size[find(x)]; }

 private:
  std::vector<std::int64_t> m_parent;
  std::vector<std::int64_t> m_size;
};

/// The part of the graph that Method::Walk splits into paths: the hits of the components in
/// which a hit has two outgoing or two incoming edges, numbered 0, 1, ... in hit order, and
/// their edges (self loops left out) in edge order, between local indices.
struct WalkGraph {
  std::vector<std::int64_t> hits;  // local index -> hit index, increasing
  std::vector<std::int64_t> from, to;
  std::vector<double> score;
  std::vector<std::int64_t> outFirst, outEdge;  // edges per local hit (CSR), in edge order
  std::vector<std::int64_t> inFirst, inEdge;
  std::size_t size() const { return hits.size(); }
};

/// Edges grouped by one end (CSR): edges[first[v]..first[v+1]) end at v, in edge order.
void groupEdges(const std::vector<std::int64_t>& end, std::size_t numNodes,
                std::vector<std::int64_t>& first, std::vector<std::int64_t>& edges) {
  first.assign(numNodes + 1, 0);
  for (std::int64_t v : end) ++first[v + 1];
  std::partial_sum(first.begin(), first.end(), first.begin());
  std::vector<std::int64_t> fill(first.begin(), first.end() - 1);
  edges.resize(end.size());
  for (std::size_t k = 0; k < end.size(); ++k) edges[fill[end[k]]++] = static_cast<std::int64_t>(k);
}

/// Labels the hits of the components that do not branch (their root; -1 below minSize) and
/// returns the others, with their edges, for the walk.
WalkGraph splitComponents(std::int64_t numHits, const std::int64_t* src, const std::int64_t* dst,
                          std::int64_t numEdges, const float* scores, int minSize,
                          DisjointSets& sets, std::vector<std::int64_t>& labels) {
  const auto n = static_cast<std::size_t>(numHits);
  std::vector<std::int64_t> root(n);
  for (std::size_t h = 0; h < n; ++h) root[h] = sets.find(static_cast<std::int64_t>(h));
  std::vector<std::uint8_t> ends(n, 0);  // bit 0: an outgoing edge seen, bit 1: an incoming one
  std::vector<char> branched(n, 0);      // per root
  for (std::int64_t e = 0; e < numEdges; ++e) {
    const std::int64_t a = src[e], b = dst[e];
    if (a == b) continue;  // a self loop neither joins nor branches
    if (ends[a] & 1) branched[root[a]] = 1;
    if (ends[b] & 2) branched[root[b]] = 1;
    ends[a] |= 1;
    ends[b] |= 2;
  }
  // Reserved for every hit and edge (pages are touched only as they fill): vectors that grow
  // by reallocation cost fresh pages at every call.
  WalkGraph g;
  g.hits.reserve(n);
  std::vector<std::int64_t> local(n, -1);
  for (std::size_t h = 0; h < n; ++h) {
    if (branched[root[h]]) {
      local[h] = static_cast<std::int64_t>(g.size());
      g.hits.push_back(static_cast<std::int64_t>(h));
    } else if (sets.sizeOf(root[h]) >= minSize) {
      labels[h] = root[h];
    }
  }
  const auto edges = static_cast<std::size_t>(numEdges);
  g.from.reserve(edges);
  g.to.reserve(edges);
  g.score.reserve(edges);
  for (std::int64_t e = 0; e < numEdges; ++e) {
    if (src[e] == dst[e] || local[src[e]] < 0) continue;
    g.from.push_back(local[src[e]]);
    g.to.push_back(local[dst[e]]);
    g.score.push_back(static_cast<double>(scores[e]));
  }
  groupEdges(g.from, g.size(), g.outFirst, g.outEdge);
  groupEdges(g.to, g.size(), g.inFirst, g.inEdge);
  return g;
}

/// The walked hits in a topological order (Kahn; the longest paths do not depend on which).
/// Throws for a cycle, naming the lowest hit of the component of lowest root that has one.
std::vector<std::int64_t> topologicalOrder(const WalkGraph& g, DisjointSets& sets) {
  std::vector<std::int64_t> pending(g.size()), order, stack;
  order.reserve(g.size());
  for (std::size_t v = 0; v < g.size(); ++v) {
    pending[v] = g.inFirst[v + 1] - g.inFirst[v];
    if (pending[v] == 0) stack.push_back(static_cast<std::int64_t>(v));
  }
  while (!stack.empty()) {
    const std::int64_t v = stack.back();
    stack.pop_back();
    order.push_back(v);
    for (std::int64_t k = g.outFirst[v]; k < g.outFirst[v + 1]; ++k) {
      const std::int64_t t = g.to[g.outEdge[k]];
      if (--pending[t] == 0) stack.push_back(t);
    }
  }
  if (order.size() == g.size()) return order;
  std::int64_t cyclic = std::numeric_limits<std::int64_t>::max();
  for (std::size_t v = 0; v < g.size(); ++v) {
    if (pending[v] > 0) cyclic = std::min(cyclic, sets.find(g.hits[v]));
  }
  const auto named = std::find_if(g.hits.begin(), g.hits.end(),
                                  [&](std::int64_t h) { return sets.find(h) == cyclic; });
  throw Error(
      "TrackBuilder: the walk needs edges oriented outwards, but a cycle of edges joins hits "
      "of the component of hit " +
      std::to_string(*named));
}

/// The longest path from local hit v onwards from its successors' values (length, weight):
/// most hits, then the highest sum of edge scores, the first such successor in edge order,
/// over the edges e that `follow(e)` allows. Sets len and sum; returns the edge the path
/// leaves by (-1: v alone).
template <class Follow>
std::int64_t longestOnward(const WalkGraph& g, std::int64_t v,
                           const std::vector<std::int32_t>& length,
                           const std::vector<double>& weight, Follow follow, std::int32_t& len,
                           double& sum) {
  len = 1;
  sum = 0.0;
  std::int64_t to = -1;
  for (std::int64_t k = g.outFirst[v]; k < g.outFirst[v + 1]; ++k) {
    const std::int64_t e = g.outEdge[k], t = g.to[e];
    if (!follow(e)) continue;
    const std::int32_t l = length[t] + 1;
    const double w = weight[t] + g.score[e];
    if (l > len || (l == len && w > sum)) {
      len = l;
      sum = w;
      to = e;
    }
  }
  return to;
}

/// Method::Walk's paths, taken one by one, best first, over all walked components at once
/// (they do not interact). Each hit keeps its longest path onwards among the hits not taken
/// (the first strictly better successor in edge order). Taking a path only shortens the
/// paths that ran into it: the hits whose chosen successor was taken, or changed value, are
/// recomputed, downstream first, so the values stay what a recomputation of every hit would
/// give (values only drop, and a successor that was not the first best does not become it
/// by dropping). The best start is a hit without predecessors not taken (a predecessor's
/// path is longer), so a heap holds the values of those only, and only from minSize hits.
class PathExtraction {
 public:
  PathExtraction(const WalkGraph& g, std::vector<std::int64_t> order, int minSize)
      : m_g(g),
        m_minSize(minSize),
        m_order(std::move(order)),
        m_position(g.size()),
        m_predecessors(g.size()),
        m_length(g.size(), 0),
        m_weight(g.size(), 0.0),
        m_onward(g.size(), -1),
        m_stamp(g.size(), 0),
        m_taken(g.size(), 0),
        m_dirty(g.size(), 0) {
    std::vector<Entry> starts;
    for (std::size_t k = m_order.size(); k-- > 0;) {
      const std::int64_t v = m_order[k];
      m_position[v] = static_cast<std::int64_t>(k);
      m_predecessors[v] = g.inFirst[v + 1] - g.inFirst[v];
      relax(v);
      if (m_predecessors[v] == 0 && m_length[v] >= m_minSize) starts.push_back(entry(v));
    }
    m_best = std::priority_queue<Entry>(std::less<Entry>(), std::move(starts));
  }

  /// Labels each path of at least minSize hits with its first hit.
  void run(std::vector<std::int64_t>& labels) {
    while (!m_best.empty()) {
      const Entry top = m_best.top();
      m_best.pop();
      if (m_taken[top.hit] || top.stamp != m_stamp[top.hit]) continue;  // outdated
      for (std::int64_t v = top.hit; v >= 0; v = m_onward[v]) {
        m_taken[v] = 1;
        labels[m_g.hits[v]] = m_g.hits[top.hit];
      }
      for (std::int64_t v = top.hit; v >= 0; v = m_onward[v]) markRunningInto(v);
      update();
      // The path's successors left without predecessors become starts, as they are now.
      for (std::int64_t v = top.hit; v >= 0; v = m_onward[v]) {
        for (std::int64_t k = m_g.outFirst[v]; k < m_g.outFirst[v + 1]; ++k) {
          const std::int64_t t = m_g.to[m_g.outEdge[k]];
          if (--m_predecessors[t] == 0 && !m_taken[t]) offer(t);
        }
      }
    }
  }

 private:
  /// A hit's path value; the heap's top is the longest, then highest sum, then lowest hit.
  struct Entry {
    std::int32_t length;
    double sum;
    std::int64_t hit;
    std::uint32_t stamp;
    bool operator<(const Entry& o) const {
      if (length != o.length) return length < o.length;
      if (sum != o.sum) return sum < o.sum;
      return hit > o.hit;
    }
  };

  Entry entry(std::int64_t v) const { return {m_length[v], m_weight[v], v, m_stamp[v]}; }

  /// A start hit's value into the heap; one shorter than minSize can only get shorter.
  void offer(std::int64_t v) {
    if (m_length[v] >= m_minSize) m_best.push(entry(v));
  }

  /// The longest path from v onwards over hits not taken, from its successors' values.
  void relax(std::int64_t v) {
    const std::int64_t e = longestOnward(
        m_g, v, m_length, m_weight, [&](std::int64_t f) { return !m_taken[m_g.to[f]]; },
        m_length[v], m_weight[v]);
    m_onward[v] = e < 0 ? -1 : m_g.to[e];
  }

  /// Schedules the hits not taken whose path continues with v.
  void markRunningInto(std::int64_t v) {
    for (std::int64_t k = m_g.inFirst[v]; k < m_g.inFirst[v + 1]; ++k) {
      const std::int64_t p = m_g.from[m_g.inEdge[k]];
      if (m_taken[p] || m_onward[p] != v || m_dirty[p]) continue;
      m_dirty[p] = 1;
      m_pending.push(m_position[p]);
    }
  }

  /// Recomputes the scheduled hits, the latest in topological order first.
  void update() {
    while (!m_pending.empty()) {
      const std::int64_t v = m_order[m_pending.top()];
      m_pending.pop();
      m_dirty[v] = 0;
      const std::int32_t length = m_length[v];
      const double weight = m_weight[v];
      relax(v);
      if (m_length[v] == length && m_weight[v] == weight &&
          std::signbit(m_weight[v]) == std::signbit(weight)) {
        continue;  // same value: the hits before it keep theirs
      }
      ++m_stamp[v];
      if (m_predecessors[v] == 0) offer(v);
      markRunningInto(v);
    }
  }

  const WalkGraph& m_g;
  const int m_minSize;
  std::vector<std::int64_t> m_order, m_position, m_predecessors;
  std::vector<std::int32_t> m_length;
  std::vector<double> m_weight;
  std::vector<std::int64_t> m_onward;
  std::vector<std::uint32_t> m_stamp;
  std::vector<char> m_taken, m_dirty;
  std::priority_queue<Entry> m_best;
  std::priority_queue<std::int64_t> m_pending;  // topological positions
};

/// The angle between two directions in the r-z plane, in [0, pi].
double turnAngle(double a, double b) {
  const double d = std::abs(a - b);
  return std::min(d, 2.0 * M_PI - d);
}

/// Method::Walk's paths with Config::maxTurn (TrackBuilder.hpp), component by component:
/// every hit not taken gets its longest path onwards among the successors whose own path
/// starts with an edge turning by at most maxTurn from the edge into them (or has no edge);
/// the component's best path is taken; all is recomputed. No incremental shortcut as in
/// PathExtraction: taking hits can make a successor eligible and lengthen a path.
void straightPaths(const WalkGraph& g, const std::vector<std::int64_t>& order, int minSize,
                   double maxTurn, const float* xyz, DisjointSets& sets,
                   std::vector<std::int64_t>& labels) {
  const auto rz = [&](std::int64_t local) {
    const std::int64_t h = g.hits[local];
    const double x = xyz[3 * h], y = xyz[3 * h + 1];
    return std::pair<double, double>(std::sqrt(x * x + y * y), xyz[3 * h + 2]);
  };
  std::vector<double> angle(g.from.size());
  for (std::size_t e = 0; e < angle.size(); ++e) {
    const auto [ra, za] = rz(g.from[e]);
    const auto [rb, zb] = rz(g.to[e]);
    angle[e] = std::atan2(rb - ra, zb - za);
  }
  // The components' hits, each in the topological order.
  std::vector<std::vector<std::int64_t>> components;
  std::vector<std::int64_t> componentOfRoot(labels.size(), -1);
  for (const std::int64_t v : order) {
    std::int64_t& c = componentOfRoot[sets.find(g.hits[v])];
    if (c < 0) {
      c = static_cast<std::int64_t>(components.size());
      components.emplace_back();
    }
    components[c].push_back(v);
  }
  std::vector<std::int32_t> length(g.size(), 0);
  std::vector<double> sum(g.size(), 0.0);
  std::vector<std::int64_t> onward(g.size(), -1);  // the edge the path leaves by
  std::vector<char> taken(g.size(), 0);
  // A successor counts if its own path leaves within the turn limit (or it is alone).
  const auto follow = [&](std::int64_t e) {
    const std::int64_t t = g.to[e];
    return !taken[t] && (onward[t] < 0 || turnAngle(angle[e], angle[onward[t]]) <= maxTurn);
  };
  for (const auto& hits : components) {
    while (true) {
      std::int64_t best = -1;
      for (auto k = hits.size(); k-- > 0;) {
        const std::int64_t v = hits[k];
        if (taken[v]) continue;
        onward[v] = longestOnward(g, v, length, sum, follow, length[v], sum[v]);
        const std::int32_t len = length[v];
        const double s = sum[v];
        // Local indices follow the hit indices: the lower one is the lower hit.
        if (best < 0 || len > length[best] || (len == length[best] && s > sum[best]) ||
            (len == length[best] && s == sum[best] && v < best)) {
          best = v;
        }
      }
      if (best < 0 || length[best] < minSize) break;
      for (std::int64_t v = best;;) {
        taken[v] = 1;
        labels[g.hits[v]] = g.hits[best];
        if (onward[v] < 0) break;
        v = g.to[onward[v]];
      }
    }
  }
}

/// Method::Walk on the union-find's components (TrackBuilder.hpp). Returns a provisional
/// label per hit, a hit index of its track (-1: none); build() renumbers them.
std::vector<std::int64_t> walkLabels(std::int64_t numHits, const std::int64_t* src,
                                     const std::int64_t* dst, std::int64_t numEdges,
                                     const float* scores, int minSize, double maxTurn,
                                     const float* xyz, DisjointSets& sets) {
  std::vector<std::int64_t> labels(static_cast<std::size_t>(numHits), -1);
  const WalkGraph g = splitComponents(numHits, src, dst, numEdges, scores, minSize, sets, labels);
  if (maxTurn > 0.0) {
    straightPaths(g, topologicalOrder(g, sets), minSize, maxTurn, xyz, sets, labels);
  } else {
    PathExtraction(g, topologicalOrder(g, sets), minSize).run(labels);
  }
  // Hits left over join a neighbouring track (labels as before this pass: not chained).
  std::vector<std::int64_t> before(g.size());
  for (std::size_t v = 0; v < g.size(); ++v) before[v] = labels[g.hits[v]];
  for (std::size_t k = 0; k < g.from.size(); ++k) {
    const std::int64_t a = g.from[k], b = g.to[k];
    if (before[a] >= 0 && labels[g.hits[b]] < 0) {
      labels[g.hits[b]] = before[a];
    } else if (before[b] >= 0 && labels[g.hits[a]] < 0) {
      labels[g.hits[a]] = before[b];
    }
  }
  return labels;
}

}  // namespace

TrackBuilder::Method TrackBuilder::methodFromName(const std::string& name) {
  if (name == "components") return Method::Components;
  if (name == "walk") return Method::Walk;
  throw Error("unknown track builder '" + name + "' (expected components or walk)");
}

const char* TrackBuilder::methodName(Method method) {
  return method == Method::Walk ? "walk" : "components";
}

TrackBuilder::TrackBuilder(Config config) : m_config(config) {
  if (m_config.minTrackSize < 1) {
    throw Error("TrackBuilder: minTrackSize must be at least 1, got " +
                std::to_string(m_config.minTrackSize));
  }
  if (m_config.method == Method::Walk && m_config.junctionRemoval) {
    throw Error("TrackBuilder: the walk does not combine with junction removal (choose one)");
  }
  if (!(m_config.maxTurn >= 0.0 && m_config.maxTurn <= M_PI)) {
    throw Error("TrackBuilder: maxTurn must lie in [0, pi] radians (0: no limit), got " +
                std::to_string(m_config.maxTurn));
  }
  if (m_config.maxTurn > 0.0 && m_config.method != Method::Walk) {
    throw Error("TrackBuilder: a turn limit (maxTurn) is for the walk only");
  }
  const bool noStitch = m_config.stitchMaxXy == 0.0 && m_config.stitchMaxZ == 0.0;
  const bool stitch = m_config.stitchMaxXy > 0.0 && m_config.stitchMaxZ > 0.0 &&
                      std::isfinite(m_config.stitchMaxXy) && std::isfinite(m_config.stitchMaxZ);
  if (!noStitch && !stitch) {
    throw Error(
        "TrackBuilder: the helix stitching's residual limits must both be > 0 (mm), or "
        "both 0 for none; got " +
        std::to_string(m_config.stitchMaxXy) + " and " + std::to_string(m_config.stitchMaxZ));
  }
}

std::vector<std::int64_t> TrackBuilder::build(std::int64_t numHits, const std::int64_t* src,
                                              const std::int64_t* dst, std::int64_t numEdges,
                                              const float* scores, const float* xyz) const {
  if (numHits < 0 || numEdges < 0) throw Error("TrackBuilder: negative hit or edge count");
  for (std::int64_t e = 0; e < numEdges; ++e) {
    if (src[e] < 0 || src[e] >= numHits || dst[e] < 0 || dst[e] >= numHits) {
      throw Error("TrackBuilder: edge " + std::to_string(e) + " (" + std::to_string(src[e]) +
                  " -> " + std::to_string(dst[e]) + ") has an end outside the " +
                  std::to_string(numHits) + " hits");
    }
    if (scores != nullptr && std::isnan(scores[e])) {
      throw Error("TrackBuilder: edge " + std::to_string(e) + " has a NaN score");
    }
    if (scores != nullptr && m_config.method == Method::Walk && std::isinf(scores[e])) {
      throw Error("TrackBuilder: edge " + std::to_string(e) +
                  " has an infinite score (the walk adds scores up)");
    }
  }
  std::vector<char> keep(static_cast<std::size_t>(numEdges), 1);
  if (m_config.junctionRemoval) {
    if (scores == nullptr && numEdges > 0) {
      throw Error("TrackBuilder: junction removal needs edge scores");
    }
    // Best outgoing and incoming edge per hit; ties go to the lower edge index.
    std::vector<std::int64_t> bestOut(static_cast<std::size_t>(numHits), -1);
    std::vector<std::int64_t> bestIn(static_cast<std::size_t>(numHits), -1);
    for (std::int64_t e = 0; e < numEdges; ++e) {
      std::int64_t& out = bestOut[src[e]];
      if (out < 0 || scores[e] > scores[out]) out = e;
      std::int64_t& in = bestIn[dst[e]];
      if (in < 0 || scores[e] > scores[in]) in = e;
    }
    for (std::int64_t e = 0; e < numEdges; ++e) {
      keep[e] = bestOut[src[e]] == e && bestIn[dst[e]] == e;
    }
  }
  DisjointSets sets(numHits);
  for (std::int64_t e = 0; e < numEdges; ++e) {
    if (keep[e]) sets.unite(src[e], dst[e]);
  }
  if (m_config.method == Method::Walk) {
    if (scores == nullptr && numEdges > 0) throw Error("TrackBuilder: the walk needs edge scores");
    if (m_config.maxTurn > 0.0 && xyz == nullptr && numEdges > 0) {
      throw Error("TrackBuilder: the walk's turn limit needs the hits' positions");
    }
    std::vector<std::int64_t> labels = walkLabels(
        numHits, src, dst, numEdges, scores, m_config.minTrackSize, m_config.maxTurn, xyz, sets);
    // Number the tracks in the order of their lowest hit, as for components (in place: a
    // provisional label is a hit index).
    std::vector<std::int64_t> number(static_cast<std::size_t>(numHits), -1);
    std::int64_t next = 0;
    for (std::int64_t h = 0; h < numHits; ++h) {
      const std::int64_t p = labels[h];
      if (p < 0) continue;
      if (number[p] < 0) number[p] = next++;
      labels[h] = number[p];
    }
    return labels;
  }
  // Number the surviving components in the order of their lowest hit.
  std::vector<std::int64_t> labels(static_cast<std::size_t>(numHits), -1);
  std::vector<std::int64_t> trackOfRoot(static_cast<std::size_t>(numHits), -1);
  std::int64_t next = 0;
  for (std::int64_t h = 0; h < numHits; ++h) {
    const std::int64_t root = sets.find(h);
    if (sets.sizeOf(root) < m_config.minTrackSize) continue;
    if (trackOfRoot[root] < 0) trackOfRoot[root] = next++;
    labels[h] = trackOfRoot[root];
  }
  return labels;
}

void TrackBuilder::extend(std::vector<std::int64_t>& labels, const float* xyz,
                          const std::int64_t* src, const std::int64_t* dst, std::int64_t numEdges,
                          const float* scores) {
  const auto numHits = static_cast<std::int64_t>(labels.size());
  if (numEdges < 0) throw Error("TrackBuilder: negative edge count");
  for (std::int64_t e = 0; e < numEdges; ++e) {
    if (src[e] < 0 || src[e] >= numHits || dst[e] < 0 || dst[e] >= numHits) {
      throw Error("TrackBuilder: extension edge " + std::to_string(e) + " (" +
                  std::to_string(src[e]) + " -> " + std::to_string(dst[e]) +
                  ") has an end outside the " + std::to_string(numHits) + " hits");
    }
    if (std::isnan(scores[e])) {
      throw Error("TrackBuilder: extension edge " + std::to_string(e) + " has a NaN score");
    }
  }
  std::int64_t numTracks = 0;
  for (const std::int64_t t : labels) numTracks = std::max(numTracks, t + 1);
  if (numTracks == 0 || numEdges == 0) return;
  std::vector<double> dist2(static_cast<std::size_t>(numHits));
  for (std::int64_t h = 0; h < numHits; ++h) {
    const double x = xyz[3 * h], y = xyz[3 * h + 1], z = xyz[3 * h + 2];
    dist2[h] = x * x + y * y + z * z;
  }
  // Each track's innermost and outermost hit, ordered by (distance, index).
  const auto before = [&](std::int64_t a, std::int64_t b) {
    return dist2[a] < dist2[b] || (dist2[a] == dist2[b] && a < b);
  };
  std::vector<std::int64_t> inner(static_cast<std::size_t>(numTracks), -1);
  std::vector<std::int64_t> outer(static_cast<std::size_t>(numTracks), -1);
  for (std::int64_t h = 0; h < numHits; ++h) {
    const std::int64_t t = labels[h];
    if (t < 0) continue;
    if (inner[t] < 0 || before(h, inner[t])) inner[t] = h;
    if (outer[t] < 0 || before(outer[t], h)) outer[t] = h;
  }
  // Edges per hit, leaving and entering (CSR, in edge order; self loops left out).
  std::vector<std::int64_t> outFirst(static_cast<std::size_t>(numHits) + 1, 0);
  std::vector<std::int64_t> inFirst(outFirst.size(), 0);
  for (std::int64_t e = 0; e < numEdges; ++e) {
    if (src[e] == dst[e]) continue;
    ++outFirst[src[e] + 1];
    ++inFirst[dst[e] + 1];
  }
  for (std::int64_t h = 0; h < numHits; ++h) {
    outFirst[h + 1] += outFirst[h];
    inFirst[h + 1] += inFirst[h];
  }
  std::vector<std::int64_t> outEdge(static_cast<std::size_t>(outFirst.back()));
  std::vector<std::int64_t> inEdge(static_cast<std::size_t>(inFirst.back()));
  {
    std::vector<std::int64_t> o(outFirst.begin(), outFirst.end() - 1);
    std::vector<std::int64_t> i(inFirst.begin(), inFirst.end() - 1);
    for (std::int64_t e = 0; e < numEdges; ++e) {
      if (src[e] == dst[e]) continue;
      outEdge[o[src[e]]++] = e;
      inEdge[i[dst[e]]++] = e;
    }
  }
  // From hit h along its edges (first, edge, far end) to hits without a track, best first.
  const auto grow = [&](std::int64_t h, std::int64_t t, const std::vector<std::int64_t>& first,
                        const std::vector<std::int64_t>& edge, const std::int64_t* far) {
    while (true) {
      std::int64_t best = -1;
      for (std::int64_t k = first[h]; k < first[h + 1]; ++k) {
        const std::int64_t e = edge[k];
        if (labels[far[e]] < 0 && (best < 0 || scores[e] > scores[best])) best = e;
      }
      if (best < 0) return;
      h = far[best];
      labels[h] = t;
    }
  };
  for (std::int64_t t = 0; t < numTracks; ++t) {
    if (outer[t] < 0) continue;
    grow(outer[t], t, outFirst, outEdge, dst);
    grow(inner[t], t, inFirst, inEdge, src);
  }
}

}  // namespace trkaas
