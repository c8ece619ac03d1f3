/// ConnectedComponents: configuration, input checks and the host driver of the kernel
/// bodies. The device launcher is in ConnectedComponents.cu (or DeviceNone.cpp without
/// CUDA).
#include "trkaas/device/ConnectedComponents.hpp"

#include <numeric>
#include <string>

#include "ComponentChecks.hpp"
#include "HostSchedule.hpp"
#include "kernels/ComponentKernels.hpp"
#include "trkaas/core/Error.hpp"

namespace trkaas::device {

ConnectedComponents::ConnectedComponents(Config config) : m_config(config) {
  if (m_config.minTrackSize < 1) {
    throw Error("ConnectedComponents: minTrackSize must be at least 1, got " +
                std::to_string(m_config.minTrackSize));
  }
}

std::vector<std::int64_t> ConnectedComponents::runOnHost(std::int64_t numHits,
                                                         const std::int64_t* src,
                                                         const std::int64_t* dst,
                                                         std::int64_t numEdges, const float* scores,
                                                         std::uint64_t scheduleSeed) const {
  detail::checkComponentInput(numHits, src, dst, numEdges, scores, m_config.junctionRemoval);
  detail::HostSchedule schedule(scheduleSeed);
  const std::size_t hits = static_cast<std::size_t>(numHits);

  // 1. Input check.
  std::int64_t firstBad = numEdges;
  schedule.forEach(numEdges, [&](std::int64_t e) {
    detail::checkEdge(e, numHits, src, dst, scores, &firstBad);
  });
  if (firstBad < numEdges) {
    detail::throwBadEdge(firstBad, numHits, src[firstBad], dst[firstBad]);
  }

  // 2. Junction removal.
  std::vector<std::uint8_t> keep;
  if (m_config.junctionRemoval) {
    std::vector<std::uint64_t> bestOut(hits, 0), bestIn(hits, 0);
    keep.resize(static_cast<std::size_t>(numEdges));
    schedule.forEach(numEdges, [&](std::int64_t e) {
      detail::junctionBest(e, src, dst, scores, bestOut.data(), bestIn.data());
    });
    schedule.forEach(numEdges, [&](std::int64_t e) {
      detail::junctionKeep(e, src, dst, scores, bestOut.data(), bestIn.data(), keep.data());
    });
  }
  const std::uint8_t* kept = m_config.junctionRemoval ? keep.data() : nullptr;

  // 3. Hooking and pointer jumping until a round links nothing.
  std::vector<std::int64_t> parent(hits);
  schedule.forEach(numHits, [&](std::int64_t v) { detail::initParent(v, parent.data()); });
  int changed = 1;
  while (changed != 0) {
    changed = 0;
    schedule.forEach(numEdges, [&](std::int64_t e) {
      detail::hookEdge(e, src, dst, kept, parent.data(), &changed);
    });
    schedule.forEach(numHits, [&](std::int64_t v) { detail::compress(v, parent.data()); });
  }

  // 4. Sizes, track roots, labels.
  const std::int64_t minSize = m_config.minTrackSize;
  std::vector<std::int64_t> size(hits, 0), before(hits, 0), labels(hits, -1);
  schedule.forEach(numHits,
                   [&](std::int64_t v) { detail::countSize(v, parent.data(), size.data()); });
  schedule.forEach(numHits, [&](std::int64_t v) {
    detail::markTrackRoot(v, parent.data(), size.data(), minSize, before.data());
  });
  std::exclusive_scan(before.begin(), before.end(), before.begin(), std::int64_t{0});
  schedule.forEach(numHits, [&](std::int64_t v) {
    detail::writeLabel(v, parent.data(), size.data(), minSize, before.data(), labels.data());
  });
  return labels;
}

}  // namespace trkaas::device
