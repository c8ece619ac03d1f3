#pragma once
/// Kernel bodies of track building (ConnectedComponents): each is an inline function of one
/// index and plain pointers, run by the CUDA kernels in ConnectedComponents.cu and by the
/// host driver in ConnectedComponents.cpp. Order of the steps:
///   1. checkEdge (per edge): the first edge with an end out of range or a NaN score;
///   2. junction removal, optional: junctionBest (per edge: the best outgoing edge of each
///      source and incoming edge of each target, one 64-bit atomic max each), junctionKeep
///      (per edge: kept when it is both);
///   3. initParent (per hit), then rounds of hookEdge (per kept edge: link the larger of
///      the two roots under the smaller) and compress (per hit: pointer jumping to the
///      root) until a round links nothing. Every root is then the lowest hit of its
///      component (parents only decrease and never leave the component);
///   4. countSize (per hit), markTrackRoot (per hit), an exclusive scan of the marks,
///      writeLabel (per hit): tracks numbered in the order of their lowest hit.

#include <cstdint>
#include <cstring>

#include "kernels/HostDevice.hpp"

namespace trkaas::device::detail {

/// Step 1: lowers *firstBad (initially numEdges) to e when edge e has an end outside
/// [0, numHits) or a NaN score (scores may be null).
TRKAAS_HOST_DEVICE inline void checkEdge(std::int64_t e, std::int64_t numHits,
                                         const std::int64_t* src, const std::int64_t* dst,
                                         const float* scores, std::int64_t* firstBad) {
  const bool outside = src[e] < 0 || src[e] >= numHits || dst[e] < 0 || dst[e] >= numHits;
  const bool nan = scores != nullptr && !(scores[e] == scores[e]);
  if (outside || nan) {
    atomicMinInt64(firstBad, e);
  }
}

/// Score and edge index as one 64-bit number whose order is "higher score, then lower
/// edge index": the order bits of the float (-0 counted as +0, as the CPU's > does) above
/// 2^32 - 1 - e. Needs e < 2^32 - 1 and a score that is not NaN; never 0, so 0 means
/// "no edge yet".
TRKAAS_HOST_DEVICE inline std::uint64_t packScore(float score, std::int64_t e) {
  const float s = score == 0.0f ? 0.0f : score;
  std::uint32_t bits = 0;
  std::memcpy(&bits, &s, sizeof bits);
  const std::uint32_t ordered = (bits & 0x80000000u) != 0 ? ~bits : bits | 0x80000000u;
  return (static_cast<std::uint64_t>(ordered) << 32) |
         static_cast<std::uint64_t>(0xFFFFFFFFu - static_cast<std::uint32_t>(e));
}

/// Step 2a: offers edge e to its source's best outgoing and its target's best incoming
/// edge (bestOut, bestIn: one per hit, initially 0).
TRKAAS_HOST_DEVICE inline void junctionBest(std::int64_t e, const std::int64_t* src,
                                            const std::int64_t* dst, const float* scores,
                                            std::uint64_t* bestOut, std::uint64_t* bestIn) {
  const std::uint64_t packed = packScore(scores[e], e);
  atomicMaxUint64(bestOut + src[e], packed);
  atomicMaxUint64(bestIn + dst[e], packed);
}

/// Step 2b: keep[e] = 1 when edge e won at both its ends.
TRKAAS_HOST_DEVICE inline void junctionKeep(std::int64_t e, const std::int64_t* src,
                                            const std::int64_t* dst, const float* scores,
                                            const std::uint64_t* bestOut,
                                            const std::uint64_t* bestIn, std::uint8_t* keep) {
  const std::uint64_t packed = packScore(scores[e], e);
  keep[e] = bestOut[src[e]] == packed && bestIn[dst[e]] == packed ? 1 : 0;
}

/// Step 3: every hit its own root.
TRKAAS_HOST_DEVICE inline void initParent(std::int64_t v, std::int64_t* parent) { parent[v] = v; }

/// Root of hit v: the end of its parent chain.
TRKAAS_HOST_DEVICE inline std::int64_t rootOf(std::int64_t v, const std::int64_t* parent) {
  std::int64_t p = loadShared(parent + v);
  while (p != v) {
    v = p;
    p = loadShared(parent + v);
  }
  return v;
}

/// Step 3, hooking: when the ends of kept edge e (keep may be null: all kept) have
/// different roots, the larger root gets the smaller as parent (atomic min: of several
/// offers the smallest wins; the losers' edges are linked again next round) and *changed
/// is set.
TRKAAS_HOST_DEVICE inline void hookEdge(std::int64_t e, const std::int64_t* src,
                                        const std::int64_t* dst, const std::uint8_t* keep,
                                        std::int64_t* parent, int* changed) {
  if (keep != nullptr && keep[e] == 0) {
    return;
  }
  const std::int64_t a = rootOf(src[e], parent);
  const std::int64_t b = rootOf(dst[e], parent);
  if (a == b) {
    return;
  }
  atomicMinInt64(parent + (a > b ? a : b), a < b ? a : b);
  *changed = 1;
}

/// Step 3, pointer jumping: hit v points straight at its root. Each thread writes only its
/// own parent, always to an ancestor, and after every step, so that threads walking through
/// v skip ahead (a chain of length L costs about log L steps when the threads run together,
/// not L). Roots do not change while this runs: it ends with parent[v] a root.
TRKAAS_HOST_DEVICE inline void compress(std::int64_t v, std::int64_t* parent) {
  std::int64_t p = loadShared(parent + v);
  for (std::int64_t next = loadShared(parent + p); next != p; next = loadShared(parent + p)) {
    p = next;
    storeShared(parent + v, p);
  }
}

/// Step 4: one more hit for v's root (parents compressed; size zeroed).
TRKAAS_HOST_DEVICE inline void countSize(std::int64_t v, const std::int64_t* parent,
                                         std::int64_t* size) {
  atomicAddInt64(size + parent[v], 1);
}

/// Step 4: mark[v] = 1 when v is the root (lowest hit) of a component that is a track.
TRKAAS_HOST_DEVICE inline void markTrackRoot(std::int64_t v, const std::int64_t* parent,
                                             const std::int64_t* size, std::int64_t minTrackSize,
                                             std::int64_t* mark) {
  mark[v] = parent[v] == v && size[v] >= minTrackSize ? 1 : 0;
}

/// Step 4: label of hit v: the number of track roots before its root (the exclusive scan
/// of the marks), or -1 when its component is too small.
TRKAAS_HOST_DEVICE inline void writeLabel(std::int64_t v, const std::int64_t* parent,
                                          const std::int64_t* size, std::int64_t minTrackSize,
                                          const std::int64_t* trackBefore, std::int64_t* labels) {
  const std::int64_t r = parent[v];
  labels[v] = size[r] >= minTrackSize ? trackBefore[r] : -1;
}

}  // namespace trkaas::device::detail
