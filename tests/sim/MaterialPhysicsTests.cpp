// The generator's optional material physics in whole events: energy loss along the
// trajectory, delta electrons and hadronic interactions with their secondaries. Expected
// values are computed here from the PDG formulas (PdgFormulas.hpp) and the geometry.

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <vector>

#include "BoxDetector.hpp"
#include "PdgFormulas.hpp"
#include "SimTestUtil.hpp"
#include "TrkaasCatch.hpp"
#include "trkaas/sim/Detector.hpp"
#include "trkaas/sim/EventGenerator.hpp"
#include "trkaas/sim/ParticleId.hpp"

using trkaas::Detector;
using trkaas::Event;
using trkaas::EventGenerator;
using trkaas::GeneratorConfig;
using trkaas::Module;
using trkaas::ParticleId;
using trkaas::Vector3;
using trkaas::test::betheMeV;
using trkaas::test::boxBeam;
using trkaas::test::boxDetector;
using trkaas::test::contains;
using trkaas::test::thrownMessage;

namespace {

constexpr double kSiliconMassPerMm = 0.2329;  // g/cm2 per mm
constexpr double kSiliconX0 = 21.82;          // g/cm2
constexpr double kLambdaI = 108.4;            // g/cm2, nuclear interaction length of Si

std::shared_ptr<const Detector> detector() {
  static const auto det = std::make_shared<const Detector>(Detector::load(Detector::defaultPath()));
  return det;
}

double massOf(std::int32_t pdg) {
  switch (std::abs(pdg)) {
    case 211:
      return 0.13957039;
    case 321:
      return 0.493677;
    case 2212:
      return 0.93827209;
    case 11:
      return 0.00051099895;
    case 13:
      return 0.1056583755;
  }
  return -1.0;
}

bool isHadron(std::int32_t pdg) {
  const int a = std::abs(pdg);
  return a == 211 || a == 321 || a == 2212;
}

/// Hit indices of each particle id.
std::map<std::int64_t, std::vector<std::size_t>> hitsByParticle(const Event& e) {
  std::map<std::int64_t, std::vector<std::size_t>> out;
  for (std::size_t i = 0; i < e.hits.size(); ++i) out[e.truth.particleId[i]].push_back(i);
  return out;
}

Vector3 truthMomentum(const Event& e, std::size_t i) {
  return {e.truth.tpx[i], e.truth.tpy[i], e.truth.tpz[i]};
}

Vector3 truthPosition(const Event& e, std::size_t i) {
  return {e.truth.tx[i], e.truth.ty[i], e.truth.tz[i]};
}

GeneratorConfig fullPhysics() {
  GeneratorConfig c;
  c.energyLoss = true;
  c.deltaElectrons = true;
  c.hadronicInteractions = true;
  c.decays = true;
  c.bremsstrahlung = true;
  return c;
}

}  // namespace

TEST_CASE("material physics: energy loss between hits is the Bethe-Bloch mean",
          "[sim][generator][physics]") {
  GeneratorConfig config;
  config.pileup = 20;
  config.hardScatter = true;
  config.seed = 99;
  config.energyLoss = true;
  config.multipleScattering = false;
  config.hitInefficiency = 0.0;
  config.noiseFraction = 0.0;
  const EventGenerator gen(detector(), config);
  double measured = 0.0;  // MeV
  double expected = 0.0;  // MeV
  double variance = 0.0;  // MeV^2, of the measured sum
  std::size_t pairs = 0;
  std::size_t rising = 0;
  for (std::int64_t id = 0; id < 24; ++id) {
    const Event e = gen.generate(id);
    const auto byParticle = hitsByParticle(e);
    for (std::size_t k = 0; k < e.particles.size(); ++k) {
      const Vector3 p0{e.particles.px[k], e.particles.py[k], e.particles.pz[k]};
      const double mass = massOf(e.particles.pdgId[k]);
      // No loopers (2R > 1.1 m: they leave before turning back; beta gamma > 1, so that
      // slow protons do not shrink their radius on the way), hits in path order by
      // distance; a moderate W_max (the delta-ray tail up to W_max makes the mean
      // converge slowly); electrons aside.
      if (p0.perp() < 0.35 || p0.norm() < mass || p0.norm() > 3.0 ||
          std::abs(e.particles.pdgId[k]) == 11) {
        continue;
      }
      const auto it = byParticle.find(e.particles.particleId[k]);
      if (it == byParticle.end()) continue;
      std::vector<std::size_t> hits = it->second;
      const Vector3 v{e.particles.vx[k], e.particles.vy[k], e.particles.vz[k]};
      std::sort(hits.begin(), hits.end(), [&](std::size_t a, std::size_t b) {
        return (truthPosition(e, a) - v).norm() < (truthPosition(e, b) - v).norm();
      });
      for (std::size_t j = 0; j + 1 < hits.size(); ++j) {
        const Vector3 pa = truthMomentum(e, hits[j]);
        const Vector3 pb = truthMomentum(e, hits[j + 1]);
        const double ea = std::hypot(pa.norm(), mass) * 1e3;
        const double eb = std::hypot(pb.norm(), mass) * 1e3;
        const Module* m = detector()->find(e.hits.volumeId[hits[j]], e.hits.layerId[hits[j]],
                                           e.hits.moduleId[hits[j]]);
        REQUIRE(m != nullptr);
        const double cosInc = std::abs(pa.unit().dot(m->normal()));
        if (cosInc < 0.05) continue;  // the generator caps the path there
        const double x =
            (m->thickness * kSiliconMassPerMm + config.supportMaterial * kSiliconX0) / cosInc;
        measured += ea - eb;
        expected += betheMeV(mass, pa.norm(), x);
        // Variance of the loss: that of the 1/T^2 spectrum, about xi W_max.
        const auto r = trkaas::test::pdg(mass, pa.norm(), x);
        variance += r.xi * r.wmax;
        rising += eb > ea + 1e-3;  // float rounding of 3 GeV is ~0.2 keV
        ++pairs;
      }
    }
  }
  CAPTURE(pairs, measured, expected, std::sqrt(variance));
  REQUIRE(pairs > 20000);
  CHECK(rising == 0);
  CHECK(std::abs(measured - expected) < 4.0 * std::sqrt(variance));
  CHECK(measured / expected == Approx(1.0).epsilon(0.05));
}

TEST_CASE("material physics: the same primaries with any physics switched on",
          "[sim][generator][physics]") {
  GeneratorConfig basic;
  basic.pileup = 10;
  basic.seed = 5;
  GeneratorConfig full = fullPhysics();
  full.pileup = 10;
  full.seed = 5;
  const Event a = EventGenerator(detector(), basic).generate(1);
  const Event b = EventGenerator(detector(), full).generate(1);
  REQUIRE(b.particles.size() > a.particles.size());  // secondaries are appended
  for (std::size_t k = 0; k < a.particles.size(); ++k) {
    CHECK(b.particles.particleId[k] == a.particles.particleId[k]);
    CHECK(b.particles.pdgId[k] == a.particles.pdgId[k]);
    CHECK(b.particles.px[k] == a.particles.px[k]);
    CHECK(b.particles.pz[k] == a.particles.pz[k]);
    CHECK(b.particles.vz[k] == a.particles.vz[k]);
  }
  for (std::size_t k = a.particles.size(); k < b.particles.size(); ++k) {
    CHECK(ParticleId::isSecondary(b.particles.particleId[k]));
  }
}

TEST_CASE("material physics: delta electrons leave the sensor with the delta-ray kinematics",
          "[sim][generator][physics]") {
  GeneratorConfig config = fullPhysics();
  config.hadronicInteractions = false;
  config.decays = false;
  config.pileup = 40;
  config.volumes = {7, 8, 9};
  config.seed = 3;
  config.hitInefficiency = 0.0;
  const EventGenerator gen(detector(), config);
  const Event e = gen.generate(0);
  const auto byParticle = hitsByParticle(e);
  std::map<std::int64_t, std::size_t> index;
  for (std::size_t k = 0; k < e.particles.size(); ++k) index[e.particles.particleId[k]] = k;
  std::size_t deltas = 0;
  std::size_t deltaHits = 0;
  for (std::size_t k = 0; k < e.particles.size(); ++k) {
    const std::int64_t id = e.particles.particleId[k];
    if (!ParticleId::isSecondary(id)) continue;
    ++deltas;
    REQUIRE(ParticleId::process(id) == ParticleId::Process::kDeltaElectron);
    CHECK(e.particles.pdgId[k] == 11);
    CHECK(e.particles.charge[k] == -1);
    const auto parent = index.find(ParticleId::parent(id));
    REQUIRE(parent != index.end());
    const std::size_t pk = parent->second;
    // Made where the parent crossed a module (every crossing leaves a hit here).
    const Vector3 vertex{e.particles.vx[k], e.particles.vy[k], e.particles.vz[k]};
    const auto& parentHits = byParticle.at(ParticleId::parent(id));
    std::size_t at = parentHits.front();
    for (std::size_t h : parentHits) {
      if ((truthPosition(e, h) - vertex).norm() < (truthPosition(e, at) - vertex).norm()) at = h;
    }
    CHECK((truthPosition(e, at) - vertex).norm() < 2e-3);
    // Kinetic energy: at least the tracking threshold, at most W_max of the parent there.
    const double mass = massOf(e.particles.pdgId[pk]);
    const Vector3 pp = truthMomentum(e, at);
    const Vector3 pe{e.particles.px[k], e.particles.py[k], e.particles.pz[k]};
    const double t = (std::hypot(pe.norm(), 0.00051099895) - 0.00051099895) * 1e3;  // MeV
    const auto r = trkaas::test::pdg(mass, pp.norm(), 1.0);
    CHECK(t >= config.deltaElectronMinEnergy * 1e3 * (1 - 1e-4));
    const double wmax = std::abs(e.particles.pdgId[pk]) == 11
                            ? 0.5 * (std::hypot(pp.norm(), mass) - mass) * 1e3
                            : r.wmax;
    CHECK(t <= wmax * (1 + 1e-4));
    // Two-body kinematics, cos theta = (T/p_e)(p_max/W_max), at the energy it was made
    // with, which is at least the energy it left the sensor with: cos theta is at least
    // the value at T.
    if (std::abs(e.particles.pdgId[pk]) != 11) {
      const double pet = std::sqrt(t * t + 2 * trkaas::test::kMe * t);
      const double pmax = std::sqrt(wmax * wmax + 2 * trkaas::test::kMe * wmax);
      CHECK(pe.unit().dot(pp.unit()) >= std::min(1.0, t / pet * pmax / wmax) - 1e-4);
    }
    const auto own = byParticle.find(id);
    const std::size_t n = own == byParticle.end() ? 0 : own->second.size();
    CHECK(e.particles.nHits[k] == static_cast<std::int32_t>(n));
    deltaHits += n;
  }
  CAPTURE(deltas, deltaHits, e.hits.size());
  CHECK(deltas > 10);
  CHECK(deltaHits > 0);
  // Extra hits, not a flood: a tracked delta needs > 100 keV after leaving the sensor,
  // which a few percent of crossings give.
  CHECK(deltaHits < e.hits.size() / 20);
}

TEST_CASE("material physics: hadrons interact at the rate of the nuclear interaction length",
          "[sim][generator][physics]") {
  GeneratorConfig config = boxBeam(5.0, 0.5);
  config.hadronicInteractions = true;
  config.supportMaterial = 0.1;  // 2.2 g/cm2 per layer: ~2% interaction probability
  const EventGenerator gen(boxDetector(), config);
  double expected = 0.0;
  double variance = 0.0;
  double interacted = 0.0;
  std::size_t hadrons = 0;
  std::size_t secondaries = 0;
  std::size_t badParent = 0;
  for (std::int64_t id = 0; id < 4; ++id) {
    const Event e = gen.generate(id);
    std::map<std::int64_t, std::int32_t> nHits;
    for (std::size_t k = 0; k < e.particles.size(); ++k) {
      const std::int64_t pid = e.particles.particleId[k];
      nHits[pid] = e.particles.nHits[k];
      if (ParticleId::isSecondary(pid)) continue;
      const Vector3 dir = Vector3{e.particles.px[k], e.particles.py[k], e.particles.pz[k]}.unit();
      const double x =
          (0.3 * kSiliconMassPerMm + 0.1 * kSiliconX0) / std::max(std::abs(dir.x), std::abs(dir.y));
      if (!isHadron(e.particles.pdgId[k])) {
        CHECK(e.particles.nHits[k] == 10);  // leptons do not interact
        continue;
      }
      // An interaction in layers 1..9 ends the particle before its 10th hit.
      const double p = 1.0 - std::exp(-9.0 * x / kLambdaI);
      expected += p;
      variance += p * (1.0 - p);
      interacted += e.particles.nHits[k] < 10;
      ++hadrons;
    }
    const auto byParticle = hitsByParticle(e);
    for (std::size_t k = 0; k < e.particles.size(); ++k) {
      const std::int64_t pid = e.particles.particleId[k];
      if (!ParticleId::isSecondary(pid)) continue;
      ++secondaries;
      CHECK(ParticleId::process(pid) == ParticleId::Process::kHadronic);
      // Its parent is a hadron that ended at the module where the secondary starts.
      const std::int64_t parent = ParticleId::parent(pid);
      const auto& parentHits = byParticle.at(parent);
      const Vector3 vertex{e.particles.vx[k], e.particles.vy[k], e.particles.vz[k]};
      double farthest = 0.0;
      double atVertex = 1e9;
      for (std::size_t h : parentHits) {
        farthest = std::max(farthest, truthPosition(e, h).norm());
        atVertex = std::min(atVertex, (truthPosition(e, h) - vertex).norm());
      }
      badParent += atVertex > 2e-3 || std::abs(vertex.norm() - farthest) > 2e-3;
    }
  }
  CAPTURE(hadrons, interacted, expected, secondaries);
  REQUIRE(hadrons > 8000);
  CHECK(std::abs(interacted - expected) < 4.0 * std::sqrt(variance));
  CHECK(interacted > 0.1 * hadrons);
  CHECK(secondaries > interacted);
  CHECK(badParent == 0);
}

TEST_CASE("material physics: configuration", "[sim][generator][physics]") {
  GeneratorConfig config;
  config.deltaElectrons = true;
  CHECK(contains(thrownMessage([&] { EventGenerator(detector(), config); }),
                 "deltaElectrons needs energyLoss"));
  GeneratorConfig basic;
  basic.pileup = 10;
  const Event e = EventGenerator(detector(), basic).generate(0);
  for (std::int64_t id : e.particles.particleId) CHECK_FALSE(ParticleId::isSecondary(id));
}

TEST_CASE("measured species: ALICE's K/pi and p/pi, the same momenta as the basic mix",
          "[sim][generator][physics]") {
  GeneratorConfig basic;
  basic.pileup = 200;
  basic.seed = 8;
  GeneratorConfig measured = basic;
  measured.measuredSpecies = true;
  const Event a = EventGenerator(detector(), basic).generate(0);
  const Event b = EventGenerator(detector(), measured).generate(0);
  REQUIRE(a.particles.size() == b.particles.size());
  std::map<int, double> count;
  std::size_t changed = 0;
  for (std::size_t k = 0; k < b.particles.size(); ++k) {
    CHECK(b.particles.px[k] == a.particles.px[k]);
    CHECK(b.particles.pz[k] == a.particles.pz[k]);
    CHECK(b.particles.charge[k] == a.particles.charge[k]);
    changed += b.particles.pdgId[k] != a.particles.pdgId[k];
    count[std::abs(b.particles.pdgId[k])] += 1;
  }
  // ALICE, EPJC 81 (2021) 256, pp at 13 TeV: (K+ + K-)/(pi+ + pi-) = 0.1299,
  // (p + pbar)/(pi+ + pi-) = 0.0576; 2% electrons; no primary muons.
  const double n = static_cast<double>(b.particles.size());
  const double pions = 0.98 / (1.0 + 0.1299 + 0.0576);
  CAPTURE(n, count[211], count[321], count[2212], count[11], count[13]);
  const auto near = [n](double observed, double share) {
    return std::abs(observed - n * share) < 4.0 * std::sqrt(n * share * (1.0 - share));
  };
  CHECK(near(count[211], pions));
  CHECK(near(count[321], pions * 0.1299));
  CHECK(near(count[2212], pions * 0.0576));
  CHECK(near(count[11], 0.02));
  CHECK(count[13] == 0);
  CHECK(changed > 0);
  // One uniform picks both: only where the two mixes' cumulative shares differ (about
  // 10%) does the species change.
  CHECK(changed < 0.15 * n);
}
