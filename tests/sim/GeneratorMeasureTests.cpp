// Not a test: the numbers of docs/generator.md, printed on demand (hidden from ctest):
//   build/tests/sim/sim_tests "[.measure]"
// Pile-up 200 events over the whole detector, basic and full physics, same seeds.

#include <cstdio>
#include <map>
#include <memory>
#include <vector>

#include "TrkaasCatch.hpp"
#include "trkaas/sim/Detector.hpp"
#include "trkaas/sim/EventGenerator.hpp"
#include "trkaas/sim/ParticleId.hpp"

using trkaas::Detector;
using trkaas::Event;
using trkaas::EventGenerator;
using trkaas::GeneratorConfig;
using trkaas::ParticleId;

namespace {

struct Tally {
  double events = 0, hits = 0, noise = 0, deltaHits = 0, hadronicHits = 0, decayHits = 0;
  double primaries = 0, secondaries = 0, deltas = 0, hadronic = 0, decays = 0;
  double seen = 0, seenHits = 0, reconstructable = 0;  // particles with >= 1 and >= 3 hits
  double hardPrimaries = 0, hardHits = 0;              // pT > 1 GeV primaries with hits
  double interactedParents = 0, hadronsSeen = 0;
  std::map<int, double> nHits;  // particles (>= 1 hit) by hit count, 20 = 20 or more
};

void add(const Event& e, Tally& t) {
  t.events += 1;
  t.hits += static_cast<double>(e.hits.size());
  for (std::int64_t pid : e.truth.particleId) {
    if (pid == 0) {
      t.noise += 1;
    } else if (ParticleId::process(pid) == ParticleId::Process::kDeltaElectron) {
      t.deltaHits += 1;
    } else if (ParticleId::process(pid) == ParticleId::Process::kHadronic) {
      t.hadronicHits += 1;
    } else if (ParticleId::process(pid) == ParticleId::Process::kDecay) {
      t.decayHits += 1;
    }
  }
  std::map<std::int64_t, bool> interacted;
  for (std::size_t k = 0; k < e.particles.size(); ++k) {
    const std::int64_t pid = e.particles.particleId[k];
    if (ParticleId::process(pid) == ParticleId::Process::kHadronic) {
      interacted[ParticleId::parent(pid)] = true;
    }
  }
  for (std::size_t k = 0; k < e.particles.size(); ++k) {
    const std::int64_t pid = e.particles.particleId[k];
    const int n = e.particles.nHits[k];
    const bool secondary = ParticleId::isSecondary(pid);
    t.primaries += !secondary;
    t.secondaries += secondary;
    t.deltas += ParticleId::process(pid) == ParticleId::Process::kDeltaElectron;
    t.hadronic += ParticleId::process(pid) == ParticleId::Process::kHadronic;
    t.decays += ParticleId::process(pid) == ParticleId::Process::kDecay;
    if (n == 0) continue;
    t.seen += 1;
    t.seenHits += n;
    t.reconstructable += n >= 3;
    t.nHits[std::min(n, 20)] += 1;
    const int a = std::abs(e.particles.pdgId[k]);
    if (!secondary && (a == 211 || a == 321 || a == 2212)) {
      t.hadronsSeen += 1;
      t.interactedParents += interacted.count(pid) ? 1 : 0;
    }
    if (!secondary && trkaas::particlePt(e.particles, k) > 1.0f) {
      t.hardPrimaries += 1;
      t.hardHits += n;
    }
  }
}

void print(const char* name, const Tally& t) {
  const double ev = t.events;
  std::printf("%s: %.0f events\n", name, ev);
  std::printf(
      "  hits/event %.0f; particles/event %.0f primaries + %.0f secondaries "
      "(%.0f delta electrons, %.0f hadronic, %.0f decay daughters)\n",
      t.hits / ev, t.primaries / ev, t.secondaries / ev, t.deltas / ev, t.hadronic / ev,
      t.decays / ev);
  std::printf(
      "  hit fractions: noise %.4f, delta electrons %.4f, hadronic secondaries %.4f, decay "
      "daughters %.4f\n",
      t.noise / t.hits, t.deltaHits / t.hits, t.hadronicHits / t.hits, t.decayHits / t.hits);
  std::printf(
      "  particles with hits/event %.0f, mean hits %.2f, with >= 3 hits %.0f/event; "
      "hits/particle (all hits / particles with hits) %.2f\n",
      t.seen / ev, t.seenHits / t.seen, t.reconstructable / ev, t.hits / t.seen);
  std::printf(
      "  primaries pT > 1 GeV: %.0f/event, mean hits %.2f; primary hadrons with a "
      "hadronic interaction: %.4f\n",
      t.hardPrimaries / ev, t.hardHits / t.hardPrimaries, t.interactedParents / t.hadronsSeen);
  std::printf("  hits per particle (particles with hits):");
  for (const auto& [n, count] : t.nHits) {
    std::printf(" %s%d:%.3f", n == 20 ? ">=" : "", n, count / t.seen);
  }
  std::printf("\n");
}

}  // namespace

TEST_CASE("measure: pile-up 200, basic and full physics", "[.measure]") {
  const auto det = std::make_shared<const Detector>(Detector::load(Detector::defaultPath()));
  const int events = 3;
  // basic; full as it was (energy loss, deltas, hadronic); full as it is now (adds decays,
  // bremsstrahlung and the measured species mix).
  for (const int level : {0, 1, 2}) {
    GeneratorConfig c;
    c.pileup = 200;
    c.seed = 7;
    c.energyLoss = c.deltaElectrons = c.hadronicInteractions = level > 0;
    c.decays = c.bremsstrahlung = c.measuredSpecies = level > 1;
    const EventGenerator gen(det, c);
    Tally t;
    for (int id = 0; id < events; ++id) add(gen.generate(id), t);
    print(level == 0 ? "basic" : level == 1 ? "full (material only)" : "full", t);
    CHECK(t.hits > 0);
  }
}
