#include "trkaas/pipeline/TrackBuilder.hpp"

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

}  // namespace

TrackBuilder::TrackBuilder(Config config) : m_config(config) {
  if (m_config.minTrackSize < 1) {
    throw Error("TrackBuilder: minTrackSize must be at least 1, got " +
                std::to_string(m_config.minTrackSize));
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
