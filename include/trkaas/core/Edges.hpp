#pragma once
/// Edges of a hit graph on the host as two columns: the one edge type of the graph
/// builders (pipeline/GraphBuilder, device/GridRadiusGraph), the stage edges of a
/// pipeline result and the edge truth metrics.

#include <cstddef>
#include <cstdint>
#include <vector>

namespace trkaas {

/// Edges src[e] - dst[e]. From a radius graph: undirected, src[e] < dst[e], sorted by src
/// then dst.
struct EdgeList {
  std::vector<std::int64_t> src;
  std::vector<std::int64_t> dst;
  /// Number of edges.
  std::size_t size() const { return src.size(); }
};

}  // namespace trkaas
