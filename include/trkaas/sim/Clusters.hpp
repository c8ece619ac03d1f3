#pragma once
/// Pixel and strip clusters: the cells a charged particle fires where it crosses a module,
/// for events that carry a cells table as TrackML's `cells.csv` does.
///
/// The model is geometric. The particle crosses the sensitive thickness (TrackML's
/// `module_t` is the half thickness: the sensor spans w in [-t, +t]) along a straight
/// line through the hit; its path projected on the module plane is a segment of length
/// 2t |d_u / d_w| in u and 2t |d_v / d_w| in v, centred on the hit. Every cell of the
/// module's grid (pitch_u x pitch_v, numbered from the module's lower edge) that the
/// segment passes through fires, with a value proportional to the path length inside it
/// (in units of the sensor thickness: a particle at normal incidence deposits 1 in all).
/// No charge sharing by diffusion, no threshold, no Landau fluctuation: the cluster size
/// follows the crossing angle only, which is what the Exa.TrkX cluster-shape features
/// (FeatureBuilder's lx, ly, ...) read from it.

#include <cstdint>
#include <vector>

#include "trkaas/sim/Detector.hpp"
#include "trkaas/sim/Vector3.hpp"

namespace trkaas {

struct Cell {
  std::int32_t ch0 = 0, ch1 = 0;  ///< channel along u, along v
  float value = 0.0f;
};

/// The cells a particle with local direction `direction` (u, v, w components, any
/// length, w != 0 unless the particle runs in the plane) fires at local position
/// (u, v) of `module`. At least one cell (the one at (u, v)); at most `maxCells`, the
/// segment being cut symmetrically around the hit beyond that. Channels are clamped to
/// the module's grid.
std::vector<Cell> clusterCells(const Module& module, double u, double v, const Vector3& direction,
                               int maxCells = 64);

}  // namespace trkaas
