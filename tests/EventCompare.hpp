#pragma once
// Column-by-column comparison of two events, shared by all test suites (no Catch2 in it,
// so MPI test programs use it too). Floats compare bit for bit: -0 differs from 0.
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "trkaas/core/Event.hpp"

namespace trkaas::test {

namespace detail {
template <class T>
bool sameBits(const T& a, const T& b) {
  if constexpr (std::is_floating_point_v<T>) {
    return std::memcmp(&a, &b, sizeof(T)) == 0;
  } else {
    return a == b;
  }
}

template <class T>
void compareColumn(const char* name, const std::vector<T>& a, const std::vector<T>& b,
                   std::string& diff) {
  if (!diff.empty()) return;
  if (a.size() != b.size()) {
    diff = std::string(name) + " has " + std::to_string(a.size()) + " vs " +
           std::to_string(b.size()) + " rows";
    return;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!sameBits(a[i], b[i])) {
      diff = std::string(name) + " differs at row " + std::to_string(i) + ": " +
             std::to_string(a[i]) + " vs " + std::to_string(b[i]);
      return;
    }
  }
}
}  // namespace detail

/// "" if the events are identical in every column of every table, else the first difference.
inline std::string eventDifference(const Event& a, const Event& b) {
  using detail::compareColumn;
  std::string d;
  if (a.eventId != b.eventId) {
    return "event id " + std::to_string(a.eventId) + " vs " + std::to_string(b.eventId);
  }
  compareColumn("hits.hit_id", a.hits.hitId, b.hits.hitId, d);
  compareColumn("hits.x", a.hits.x, b.hits.x, d);
  compareColumn("hits.y", a.hits.y, b.hits.y, d);
  compareColumn("hits.z", a.hits.z, b.hits.z, d);
  compareColumn("hits.volume_id", a.hits.volumeId, b.hits.volumeId, d);
  compareColumn("hits.layer_id", a.hits.layerId, b.hits.layerId, d);
  compareColumn("hits.module_id", a.hits.moduleId, b.hits.moduleId, d);
  compareColumn("truth.particle_id", a.truth.particleId, b.truth.particleId, d);
  compareColumn("truth.tx", a.truth.tx, b.truth.tx, d);
  compareColumn("truth.ty", a.truth.ty, b.truth.ty, d);
  compareColumn("truth.tz", a.truth.tz, b.truth.tz, d);
  compareColumn("truth.tpx", a.truth.tpx, b.truth.tpx, d);
  compareColumn("truth.tpy", a.truth.tpy, b.truth.tpy, d);
  compareColumn("truth.tpz", a.truth.tpz, b.truth.tpz, d);
  compareColumn("truth.weight", a.truth.weight, b.truth.weight, d);
  compareColumn("cells.hit_id", a.cells.hitId, b.cells.hitId, d);
  compareColumn("cells.ch0", a.cells.ch0, b.cells.ch0, d);
  compareColumn("cells.ch1", a.cells.ch1, b.cells.ch1, d);
  compareColumn("cells.value", a.cells.value, b.cells.value, d);
  compareColumn("particles.particle_id", a.particles.particleId, b.particles.particleId, d);
  compareColumn("particles.pdg_id", a.particles.pdgId, b.particles.pdgId, d);
  compareColumn("particles.vx", a.particles.vx, b.particles.vx, d);
  compareColumn("particles.vy", a.particles.vy, b.particles.vy, d);
  compareColumn("particles.vz", a.particles.vz, b.particles.vz, d);
  compareColumn("particles.px", a.particles.px, b.particles.px, d);
  compareColumn("particles.py", a.particles.py, b.particles.py, d);
  compareColumn("particles.pz", a.particles.pz, b.particles.pz, d);
  compareColumn("particles.charge", a.particles.charge, b.particles.charge, d);
  compareColumn("particles.n_hits", a.particles.nHits, b.particles.nHits, d);
  return d;
}

/// True if the events are identical in every column.
inline bool sameEvent(const Event& a, const Event& b) { return eventDifference(a, b).empty(); }

}  // namespace trkaas::test
