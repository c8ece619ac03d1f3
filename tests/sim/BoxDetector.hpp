#pragma once
// A field-free test detector of flat layers around the beam line, for the physics tests
// whose expectations need straight trajectories and a known amount of material.

#include <algorithm>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "trkaas/sim/Detector.hpp"
#include "trkaas/sim/EventGenerator.hpp"
#include "trkaas/sim/Vector3.hpp"

namespace trkaas::test {

/// Layer i (i = 1..10) is four planes facing +-x and +-y at distance 100 i mm, each 2 d wide
/// and 6 m long, 0.3 mm of silicon: every particle from the origin with |eta| < 0.5 crosses
/// each layer once, at cos(incidence) = max(|ux|, |uy|).
inline std::shared_ptr<const Detector> boxDetector() {
  std::vector<Module> modules;
  for (int layer = 1; layer <= 10; ++layer) {
    const double d = 100.0 * layer;
    const Vector3 normals[4] = {{1, 0, 0}, {-1, 0, 0}, {0, 1, 0}, {0, -1, 0}};
    for (int side = 0; side < 4; ++side) {
      const Vector3 n = normals[side];
      const Vector3 u{-n.y, n.x, 0.0};
      const Vector3 v{0.0, 0.0, 1.0};
      Module m;
      m.volumeId = 8;
      m.layerId = 2 * layer;
      m.moduleId = side + 1;
      m.centre[0] = d * n.x;
      m.centre[1] = d * n.y;
      m.centre[2] = 0.0;
      const double rot[9] = {u.x, v.x, n.x, u.y, v.y, n.y, u.z, v.z, n.z};
      std::copy(rot, rot + 9, m.rot);
      m.thickness = 0.3;
      m.minHu = m.maxHu = d;
      m.hv = 3000.0;
      m.pitchU = m.pitchV = 0.05;
      modules.push_back(m);
    }
  }
  return std::make_shared<const Detector>(std::move(modules), "box");
}

/// A generator config for boxDetector(): one vertex at the origin (no beam spot, no
/// pile-up) with `particles` hard-scatter particles of pT >= ptMin and |eta| < etaMax, no
/// field, no multiple scattering, every hit kept, no noise. Tests switch on the physics
/// they measure and set the pT spectrum's exponential part (hardScatterPtMean).
inline GeneratorConfig boxBeam(double ptMin, double etaMax, std::int64_t particles = 3000) {
  GeneratorConfig config;
  config.pileup = 0;
  config.hardScatter = true;
  config.hardScatterParticles = particles;
  config.hardScatterPtMin = ptMin;
  config.hardScatterEtaMax = etaMax;
  config.particlesPerVertex = 0;
  config.beamSigmaT = 0.0;
  config.beamSigmaZ = 0.0;
  config.bField = 0.0;
  config.multipleScattering = false;
  config.hitInefficiency = 0.0;
  config.noiseFraction = 0.0;
  config.envelopeR = 2000.0;
  return config;
}

}  // namespace trkaas::test
