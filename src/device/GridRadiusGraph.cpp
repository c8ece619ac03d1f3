/// GridRadiusGraph: configuration, input checks and the host driver of the kernel bodies.
/// The device launcher is in GridRadiusGraph.cu (or DeviceNone.cpp without CUDA).
#include "trkaas/device/GridRadiusGraph.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <string>
#include <utility>

#include "HostSchedule.hpp"
#include "RadiusGraphChecks.hpp"
#include "kernels/RadiusGraphKernels.hpp"
#include "trkaas/core/Error.hpp"

namespace trkaas::device {

std::string radiusGraphConfigError(float radius, int maxNeighbours, int gridDims) {
  std::ostringstream msg;
  if (!(radius > 0.0f) || !std::isfinite(radius)) {
    msg << "radius must be a positive finite number, got " << radius;
  } else if (maxNeighbours < 1) {
    msg << "maxNeighbours must be >= 1, got " << maxNeighbours;
  } else if (gridDims < 1 || gridDims > GridRadiusGraph::kMaxGridDims) {
    msg << "gridDims must be between 1 and " << GridRadiusGraph::kMaxGridDims
        << " (each point looks up 3^(gridDims-1) runs of cells), got " << gridDims;
  }
  return msg.str();
}

GridRadiusGraph::GridRadiusGraph(Config config) : m_config(config) {
  static_assert(kMaxGridDims == detail::kMaxGrid, "one limit for the grid");
  const std::string why =
      radiusGraphConfigError(config.radius, config.maxNeighbours, config.gridDims);
  if (!why.empty()) throw Error("GridRadiusGraph: " + why);
}

EdgeList GridRadiusGraph::runOnHost(const float* points, std::int64_t n, std::int64_t dim,
                                    std::uint64_t scheduleSeed) const {
  detail::checkRadiusGraphInput("GridRadiusGraph::runOnHost", points, n, dim);
  if (n < 2) {
    return {};
  }
  detail::HostSchedule schedule(scheduleSeed);

  // 1. Bounds and the first non-finite coordinate.
  const std::int64_t numChunks = (n + detail::kBoundsChunk - 1) / detail::kBoundsChunk;
  std::vector<float> partMin(static_cast<std::size_t>(numChunks * dim));
  std::vector<float> partMax(partMin.size());
  std::vector<std::int64_t> partBad(static_cast<std::size_t>(numChunks));
  schedule.forEach(numChunks, [&](std::int64_t c) {
    detail::chunkBounds(c, points, n, dim, partMin.data(), partMax.data(), partBad.data());
  });
  std::vector<float> mins(static_cast<std::size_t>(dim)), maxs(mins.size());
  std::int64_t firstBad = -1;
  schedule.forEach(dim, [&](std::int64_t d) {
    detail::reduceBounds(d, partMin.data(), partMax.data(), partBad.data(), numChunks, dim,
                         mins.data(), maxs.data(), &firstBad);
  });
  if (firstBad >= 0) {
    detail::throwNonFinite("GridRadiusGraph::runOnHost", firstBad, dim, points[firstBad]);
  }

  // 2. The grid; 3. cell keys, points sorted by (key, index).
  const detail::GridGeometry geo = detail::makeGridGeometry(
      mins.data(), maxs.data(), n, dim, m_config.radius, m_config.maxNeighbours, m_config.gridDims);
  std::vector<std::int64_t> keys(static_cast<std::size_t>(n)), order(keys.size());
  schedule.forEach(
      n, [&](std::int64_t i) { detail::writeCellKey(i, points, geo, keys.data(), order.data()); });
  std::stable_sort(order.begin(), order.end(),
                   [&](std::int64_t a, std::int64_t b) { return keys[a] < keys[b]; });
  std::vector<std::int64_t> sortedKeys(keys.size());
  for (std::size_t p = 0; p < order.size(); ++p) {
    sortedKeys[p] = keys[static_cast<std::size_t>(order[p])];
  }

  // 4. Coordinates in cell order.
  std::vector<float> sorted(static_cast<std::size_t>(n * dim));
  schedule.forEach(
      n, [&](std::int64_t p) { detail::gatherPoint(p, points, dim, order.data(), sorted.data()); });
  const detail::SortedPoints pts{sorted.data(), sortedKeys.data(), order.data()};

  // 5. Kept neighbours per point; 6. their slices.
  std::vector<std::int64_t> offsets(static_cast<std::size_t>(n) + 1, 0);
  schedule.forEach(n, [&](std::int64_t p) { detail::countNearest(p, pts, geo, offsets.data()); });
  std::exclusive_scan(offsets.begin(), offsets.end(), offsets.begin(), std::int64_t{0});

  // 7. The k nearest as pair keys; 8. sorted, unique, decoded.
  const std::size_t total = static_cast<std::size_t>(offsets.back());
  std::vector<double> candD2(total);
  std::vector<std::int64_t> pairKeys(total);
  schedule.forEach(n, [&](std::int64_t p) {
    detail::selectNearest(p, pts, geo, offsets.data(), candD2.data(), pairKeys.data());
  });
  std::sort(pairKeys.begin(), pairKeys.end());
  pairKeys.erase(std::unique(pairKeys.begin(), pairKeys.end()), pairKeys.end());
  EdgeList edges;
  edges.src.resize(pairKeys.size());
  edges.dst.resize(pairKeys.size());
  schedule.forEach(static_cast<std::int64_t>(pairKeys.size()), [&](std::int64_t e) {
    detail::decodePair(e, pairKeys.data(), n, edges.src.data(), edges.dst.data());
  });
  return edges;
}

}  // namespace trkaas::device
