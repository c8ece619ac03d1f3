#pragma once
/// Input checks and their messages, shared by the host driver and the device launcher of
/// ConnectedComponents (host code only; same words as the CPU TrackBuilder).

#include <cmath>
#include <cstdint>
#include <string>

#include "trkaas/core/Error.hpp"

namespace trkaas::device::detail {

/// Most edges with junction removal: packScore keeps the edge index in 32 bits.
constexpr std::int64_t kMaxJunctionEdges = 0xFFFFFFFFll - 1;

/// Throws trkaas::Error for negative counts, junction removal without scores or with too
/// many edges, or null arrays with a count above 0.
inline void checkComponentInput(std::int64_t numHits, const void* src, const void* dst,
                                std::int64_t numEdges, const void* scores, bool junctionRemoval) {
  if (numHits < 0 || numEdges < 0) {
    throw Error("ConnectedComponents: negative hit or edge count");
  }
  if (numEdges > 0 && (src == nullptr || dst == nullptr)) {
    throw Error("ConnectedComponents: edge arrays are null for " + std::to_string(numEdges) +
                " edges");
  }
  if (junctionRemoval && numEdges > 0 && scores == nullptr) {
    throw Error("ConnectedComponents: junction removal needs edge scores");
  }
  if (junctionRemoval && numEdges > kMaxJunctionEdges) {
    throw Error("ConnectedComponents: junction removal takes at most 2^32 - 2 edges, got " +
                std::to_string(numEdges));
  }
}

/// Throws the error for bad edge e: an end outside the hits, else a NaN score.
[[noreturn]] inline void throwBadEdge(std::int64_t e, std::int64_t numHits, std::int64_t src,
                                      std::int64_t dst) {
  if (src < 0 || src >= numHits || dst < 0 || dst >= numHits) {
    throw Error("ConnectedComponents: edge " + std::to_string(e) + " (" + std::to_string(src) +
                " -> " + std::to_string(dst) + ") has an end outside the " +
                std::to_string(numHits) + " hits");
  }
  throw Error("ConnectedComponents: edge " + std::to_string(e) + " has a NaN score");
}

}  // namespace trkaas::device::detail
