#include "trkaas/sim/Clusters.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <utility>

namespace trkaas {

namespace {

/// Channel of local coordinate x on a grid of `pitch` starting at -half, clamped.
std::int32_t channel(double x, double half, double pitch) {
  const auto last = static_cast<std::int32_t>(std::max(0.0, std::ceil(2.0 * half / pitch) - 1.0));
  const auto c = static_cast<std::int32_t>(std::floor((x + half) / pitch));
  return std::clamp(c, std::int32_t{0}, last);
}

}  // namespace

std::vector<Cell> clusterCells(const Module& m, double u, double v, const Vector3& d,
                               int maxCells) {
  const double halfU = std::max(m.minHu, m.maxHu);
  const double t = m.thickness;  // half thickness
  if (!(t > 0.0)) {
    return {{channel(u, halfU, m.pitchU), channel(v, m.hv, m.pitchV), 1.0f}};
  }
  // Projected half-lengths of the path through the sensor. A particle (nearly) in the
  // plane of the module would cross many cells: the cap below bounds it.
  const double dw = std::max(std::abs(d.z), 1e-9 * (std::abs(d.x) + std::abs(d.y) + 1e-30));
  double au = t * d.x / dw, av = t * d.y / dw;
  const double maxHalf = 0.5 * maxCells * std::min(m.pitchU, m.pitchV);
  const double half = std::hypot(au, av);
  if (half > maxHalf) {
    au *= maxHalf / half;
    av *= maxHalf / half;
  }
  // Walk the segment in steps far below a pitch and give each step's length to its cell.
  const double length = 2.0 * std::hypot(au, av);
  const double step = 0.1 * std::min(m.pitchU, m.pitchV);
  const int steps = std::max(1, static_cast<int>(std::ceil(length / step)));
  std::map<std::pair<std::int32_t, std::int32_t>, double> path;
  for (int s = 0; s < steps; ++s) {
    const double f = (s + 0.5) / steps * 2.0 - 1.0;  // -1 .. 1 along the segment
    const std::int32_t c0 = channel(u + f * au, halfU, m.pitchU);
    const std::int32_t c1 = channel(v + f * av, m.hv, m.pitchV);
    path[{c0, c1}] += 1.0 / steps;
  }
  // Value: path length in the cell over the sensor thickness (the whole path is
  // sqrt(1 + (2au/2t)^2 + (2av/2t)^2) thicknesses long).
  const double total = std::sqrt(1.0 + (au / t) * (au / t) + (av / t) * (av / t));
  std::vector<Cell> cells;
  cells.reserve(path.size());
  for (const auto& [ch, fraction] : path) {
    cells.push_back({ch.first, ch.second, static_cast<float>(fraction * total)});
    if (static_cast<int>(cells.size()) == maxCells) break;
  }
  return cells;
}

}  // namespace trkaas
