#include "trkaas/pipeline/TrackBuilder.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
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

/// Method::Walk on the union-find's components (TrackBuilder.hpp). Returns a provisional
/// label per hit (-1: none); build() renumbers them.
std::vector<std::int64_t> walkLabels(std::int64_t numHits, const std::int64_t* src,
                                     const std::int64_t* dst, std::int64_t numEdges,
                                     const float* scores, int minSize, DisjointSets& sets) {
  const auto n = static_cast<std::size_t>(numHits);
  std::vector<std::int32_t> in(n, 0), out(n, 0);
  for (std::int64_t e = 0; e < numEdges; ++e) {
    if (src[e] == dst[e]) continue;  // a self loop neither joins nor branches
    ++out[src[e]];
    ++in[dst[e]];
  }
  // A component is walked when one of its hits branches.
  std::vector<char> branched(n, 0);
  for (std::size_t h = 0; h < n; ++h) {
    if (in[h] > 1 || out[h] > 1) branched[sets.find(static_cast<std::int64_t>(h))] = 1;
  }
  std::vector<std::int64_t> labels(n, -1);
  for (std::size_t h = 0; h < n; ++h) {
    const std::int64_t root = sets.find(static_cast<std::int64_t>(h));
    if (!branched[root] && sets.sizeOf(root) >= minSize) labels[h] = root;
  }
  // Outgoing edges of the walked components' hits, in edge order (CSR).
  std::vector<std::int64_t> first(n + 1, 0);
  for (std::int64_t e = 0; e < numEdges; ++e) {
    if (src[e] != dst[e] && branched[sets.find(src[e])]) ++first[src[e] + 1];
  }
  std::partial_sum(first.begin(), first.end(), first.begin());
  std::vector<std::int64_t> next(first.begin(), first.end() - 1), edgeOf(first.back());
  for (std::int64_t e = 0; e < numEdges; ++e) {
    if (src[e] != dst[e] && branched[sets.find(src[e])]) edgeOf[next[src[e]]++] = e;
  }
  // The walked components' hits, grouped by component, each group in topological order
  // (Kahn; the longest paths do not depend on which topological order).
  std::vector<std::int64_t> members;
  std::vector<std::int64_t> groupStart;
  {
    std::vector<std::int64_t> start(n + 1, 0);
    for (std::size_t h = 0; h < n; ++h) {
      const std::int64_t root = sets.find(static_cast<std::int64_t>(h));
      if (branched[root]) ++start[root + 1];
    }
    std::partial_sum(start.begin(), start.end(), start.begin());
    std::vector<std::int64_t> fill(start.begin(), start.end() - 1);
    std::vector<std::int64_t> byRoot(start.back());
    for (std::size_t h = 0; h < n; ++h) {
      const std::int64_t root = sets.find(static_cast<std::int64_t>(h));
      if (branched[root]) byRoot[fill[root]++] = static_cast<std::int64_t>(h);
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
      const auto done = static_cast<std::int64_t>(members.size()) - groupStart.back();
      if (done != start[r + 1] - start[r]) {
        throw Error(
            "TrackBuilder: the walk needs edges oriented outwards, but a cycle of edges "
            "joins hits of the component of hit " +
            std::to_string(byRoot[start[r]]));
      }
    }
    groupStart.push_back(static_cast<std::int64_t>(members.size()));
  }
  // Repeatedly the longest path among the hits not taken (TrackBuilder.hpp's order).
  std::vector<std::int32_t> length(n, 0);
  std::vector<double> weight(n, 0.0);
  std::vector<std::int64_t> onward(n, -1);
  std::int64_t nextLabel = numHits;  // provisional labels above every hit index
  for (std::size_t g = 0; g + 1 < groupStart.size(); ++g) {
    const std::int64_t begin = groupStart[g], end = groupStart[g + 1];
    while (true) {
      std::int64_t best = -1;
      for (std::int64_t k = end - 1; k >= begin; --k) {
        const std::int64_t h = members[k];
        if (labels[h] >= 0) continue;
        std::int32_t len = 1;
        double sum = 0.0;
        std::int64_t to = -1;
        for (std::int64_t j = first[h]; j < first[h + 1]; ++j) {
          const std::int64_t e = edgeOf[j], t = dst[e];
          if (labels[t] >= 0) continue;
          const std::int32_t l = length[t] + 1;
          const double w = weight[t] + static_cast<double>(scores[e]);
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
  // Hits left over join a neighbouring track (labels as before this pass: not chained).
  const std::vector<std::int64_t> before(labels);
  for (std::int64_t e = 0; e < numEdges; ++e) {
    const std::int64_t a = src[e], b = dst[e];
    if (a == b || !branched[sets.find(a)]) continue;
    if (before[a] >= 0 && labels[b] < 0) {
      labels[b] = before[a];
    } else if (before[b] >= 0 && labels[a] < 0) {
      labels[a] = before[b];
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
}

std::vector<std::int64_t> TrackBuilder::build(std::int64_t numHits, const std::int64_t* src,
                                              const std::int64_t* dst, std::int64_t numEdges,
                                              const float* scores) const {
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
    const std::vector<std::int64_t> provisional =
        walkLabels(numHits, src, dst, numEdges, scores, m_config.minTrackSize, sets);
    // Number the tracks in the order of their lowest hit, as for components.
    std::vector<std::int64_t> labels(static_cast<std::size_t>(numHits), -1);
    std::vector<std::int64_t> number(2 * static_cast<std::size_t>(numHits), -1);
    std::int64_t next = 0;
    for (std::int64_t h = 0; h < numHits; ++h) {
      const std::int64_t p = provisional[h];
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

}  // namespace trkaas
