#pragma once
// Catch2 comparison of every column of every table of two events.
#include "TrkaasCatch.hpp"
#include "trkaas/core/Event.hpp"

namespace trkaas::test {

inline void requireSameEvent(const Event& a, const Event& b) {
  REQUIRE(a.eventId == b.eventId);
  REQUIRE(a.hits.hitId == b.hits.hitId);
  REQUIRE(a.hits.x == b.hits.x);
  REQUIRE(a.hits.y == b.hits.y);
  REQUIRE(a.hits.z == b.hits.z);
  REQUIRE(a.hits.volumeId == b.hits.volumeId);
  REQUIRE(a.hits.layerId == b.hits.layerId);
  REQUIRE(a.hits.moduleId == b.hits.moduleId);
  REQUIRE(a.truth.particleId == b.truth.particleId);
  REQUIRE(a.truth.tx == b.truth.tx);
  REQUIRE(a.truth.ty == b.truth.ty);
  REQUIRE(a.truth.tz == b.truth.tz);
  REQUIRE(a.truth.tpx == b.truth.tpx);
  REQUIRE(a.truth.tpy == b.truth.tpy);
  REQUIRE(a.truth.tpz == b.truth.tpz);
  REQUIRE(a.truth.weight == b.truth.weight);
  REQUIRE(a.cells.hitId == b.cells.hitId);
  REQUIRE(a.cells.ch0 == b.cells.ch0);
  REQUIRE(a.cells.ch1 == b.cells.ch1);
  REQUIRE(a.cells.value == b.cells.value);
  REQUIRE(a.particles.particleId == b.particles.particleId);
  REQUIRE(a.particles.pdgId == b.particles.pdgId);
  REQUIRE(a.particles.vx == b.particles.vx);
  REQUIRE(a.particles.vy == b.particles.vy);
  REQUIRE(a.particles.vz == b.particles.vz);
  REQUIRE(a.particles.px == b.particles.px);
  REQUIRE(a.particles.py == b.particles.py);
  REQUIRE(a.particles.pz == b.particles.pz);
  REQUIRE(a.particles.charge == b.particles.charge);
  REQUIRE(a.particles.nHits == b.particles.nHits);
}

}  // namespace trkaas::test
