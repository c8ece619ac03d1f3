// Decays in flight (sim/Decay.hpp): two-body kinematics on their own, and the decay
// points and daughters in whole events. Expected values are computed here from the
// masses and lifetimes (PDG), not taken from the generator.

#include <cmath>
#include <map>
#include <memory>
#include <tuple>
#include <vector>

#include "BoxDetector.hpp"
#include "Random.hpp"
#include "TrkaasCatch.hpp"
#include "trkaas/sim/Decay.hpp"
#include "trkaas/sim/EventGenerator.hpp"
#include "trkaas/sim/ParticleId.hpp"

using trkaas::Decay;
using trkaas::Event;
using trkaas::EventGenerator;
using trkaas::GeneratorConfig;
using trkaas::ParticleId;
using trkaas::Random;
using trkaas::Vector3;

namespace {

// PDG masses (GeV) and c tau (mm), written out here.
constexpr double kMPi = 0.13957039;
constexpr double kMK = 0.493677;
constexpr double kMMu = 0.1056583755;
constexpr double kMPi0 = 0.1349768;
constexpr double kCTauPi = 7804.5;
constexpr double kCTauK = 3712.0;
constexpr double kKaonTwoBody = 0.6356 + 0.2067;  // K -> mu nu, K -> pi pi0

double energy(const Vector3& p, double m) { return std::sqrt(p.dot(p) + m * m); }

/// |momentum| of a daughter (mass m) in the rest frame of a parent (mass M, momentum P).
double restFrameMomentum(const Vector3& parent, double bigM, const Vector3& daughter, double m) {
  const double e = energy(parent, bigM);
  const Vector3 dir = parent.unit();
  const double gamma = e / bigM;
  const double beta = parent.norm() / e;
  const double along = daughter.dot(dir);
  const Vector3 across = daughter - dir * along;
  const double alongStar = gamma * (along - beta * energy(daughter, m));
  return std::sqrt(alongStar * alongStar + across.dot(across));
}

}  // namespace

TEST_CASE("Decay: two-body momentum, conservation and isotropy", "[sim][decay]") {
  // pi -> mu nu: p* = (m_pi^2 - m_mu^2) / (2 m_pi) = 29.79 MeV.
  const double pStar = (kMPi * kMPi - kMMu * kMMu) / (2.0 * kMPi);
  CHECK(pStar * 1e3 == Approx(29.79).margin(0.005));
  CHECK(Decay::twoBodyMomentum(kMPi, kMMu, 0.0) == Approx(pStar).epsilon(1e-12));
  // K -> pi pi0: p* from the two-body formula written out here (205.1 MeV).
  const double kPiPi0 = std::sqrt((kMK * kMK - (kMPi + kMPi0) * (kMPi + kMPi0)) *
                                  (kMK * kMK - (kMPi - kMPi0) * (kMPi - kMPi0))) /
                        (2.0 * kMK);
  CHECK(kPiPi0 * 1e3 == Approx(205.14).margin(0.01));
  CHECK(Decay::twoBodyMomentum(kMK, kMPi, kMPi0) == Approx(kPiPi0).epsilon(1e-12));

  Random rng(17);
  const Vector3 parent{0.3, -0.2, 1.1};
  const int n = 100000;
  double sumCos = 0.0;
  double worstP = 0.0;
  double worstE = 0.0;
  double worstMass = 0.0;
  for (int i = 0; i < n; ++i) {
    const Vector3 mu = Decay::twoBody(parent, kMPi, kMMu, 0.0, rng);
    worstP = std::max(worstP, std::abs(restFrameMomentum(parent, kMPi, mu, kMMu) - pStar));
    // The neutrino takes the rest of the momentum; its energy must close the balance.
    const Vector3 nu = parent - mu;
    worstE = std::max(worstE, std::abs(energy(parent, kMPi) - energy(mu, kMMu) - nu.norm()));
    // Rest-frame direction: cos theta* along the parent, flat in [-1, 1] if isotropic.
    const double e = energy(parent, kMPi);
    const double along = mu.dot(parent.unit());
    const double alongStar = e / kMPi * (along - parent.norm() / e * energy(mu, kMMu));
    sumCos += alongStar / pStar;
    // K -> pi pi0: the missing mass is the pi0's.
    const Vector3 pi = Decay::twoBody(parent, kMK, kMPi, kMPi0, rng);
    const Vector3 rest = parent - pi;
    const double eRest = energy(parent, kMK) - energy(pi, kMPi);
    worstMass = std::max(worstMass, std::abs(std::sqrt(eRest * eRest - rest.dot(rest)) - kMPi0));
  }
  CHECK(worstP < 1e-9);
  CHECK(worstE < 1e-9);
  CHECK(worstMass < 1e-8);
  // Mean of a flat cos theta* is 0 with sigma 1 / sqrt(3 n).
  CHECK(std::abs(sumCos / n) < 4.0 / std::sqrt(3.0 * n));
}

TEST_CASE("Decay: lifetimes and species", "[sim][decay]") {
  CHECK(Decay::properLength(211) == kCTauPi);
  CHECK(Decay::properLength(-321) == kCTauK);
  CHECK(Decay::properLength(2212) == 0.0);
  CHECK(Decay::properLength(13) == 0.0);
  CHECK(Decay::meanLength(211, kMPi, 1.0) == Approx(1.0 / kMPi * kCTauPi));
  // Charges and ids of the daughters; the kaon's modes in their PDG shares.
  Random rng(3);
  Decay::Daughter d;
  REQUIRE(Decay::chargedDaughter(211, 1, {0, 0, 1}, rng, d));
  CHECK(d.pdg == -13);
  CHECK(d.charge == 1);
  REQUIRE(Decay::chargedDaughter(-211, -1, {0, 0, 1}, rng, d));
  CHECK(d.pdg == 13);
  CHECK(d.charge == -1);
  const int n = 200000;
  int muons = 0;
  int pions = 0;
  for (int i = 0; i < n; ++i) {
    if (!Decay::chargedDaughter(-321, -1, {0, 0, 1}, rng, d)) continue;
    CHECK(d.charge == -1);
    muons += d.pdg == 13;
    pions += d.pdg == -211;
  }
  const auto near = [n](int count, double share) {
    return std::abs(count - n * share) < 4.0 * std::sqrt(n * share * (1.0 - share));
  };
  CHECK(near(muons, 0.6356));
  CHECK(near(pions, 0.2067));
}

namespace {

/// Field-free box, no material effects: only decays change the particles. Particles of
/// one momentum (pT = p at eta ~ 0).
GeneratorConfig boxDecays(double p) {
  GeneratorConfig config = trkaas::test::boxBeam(p, 1e-3);
  config.decays = true;
  config.hardScatterPtMean = 0.0;
  return config;
}

struct Expectation {
  double n = 0;
  double count = 0;
  double expected = 0;
  double variance = 0;
  bool agrees() const { return std::abs(count - expected) < 4.0 * std::sqrt(variance); }
};

}  // namespace

TEST_CASE("Decay: the fraction decayed before a radius is 1 - exp(-L / (beta gamma c tau))",
          "[sim][decay][generator]") {
  constexpr double kRadius = 1000.0;  // mm, transverse
  constexpr double kP = 0.25;         // GeV
  const EventGenerator gen(trkaas::test::boxDetector(), boxDecays(kP));
  Expectation pions, kaons;
  std::size_t daughters = 0;
  std::size_t badVertex = 0;
  std::size_t badHits = 0;
  double worstRest = 0.0;
  double worstMass = 0.0;
  for (std::int64_t id = 0; id < 6; ++id) {
    const Event e = gen.generate(id);
    std::map<std::int64_t, std::size_t> index;
    std::map<std::int64_t, std::vector<std::size_t>> hits;
    for (std::size_t k = 0; k < e.particles.size(); ++k) index[e.particles.particleId[k]] = k;
    for (std::size_t i = 0; i < e.hits.size(); ++i) hits[e.truth.particleId[i]].push_back(i);
    std::map<std::int64_t, Vector3> decayVertex;  // parent id -> its daughter's vertex
    for (std::size_t k = 0; k < e.particles.size(); ++k) {
      const std::int64_t pid = e.particles.particleId[k];
      if (!ParticleId::isSecondary(pid)) continue;
      ++daughters;
      REQUIRE(ParticleId::process(pid) == ParticleId::Process::kDecay);
      const std::size_t pk = index.at(ParticleId::parent(pid));
      const Vector3 vertex{e.particles.vx[k], e.particles.vy[k], e.particles.vz[k]};
      decayVertex[ParticleId::parent(pid)] = vertex;
      // Straight parent from the origin: the vertex lies on its line and its hits come
      // before the vertex (the daughter of a slow kaon may fly backwards).
      const Vector3 parent{e.particles.px[pk], e.particles.py[pk], e.particles.pz[pk]};
      badVertex += vertex.cross(parent.unit()).norm() > 1e-3;
      for (std::size_t h : hits[ParticleId::parent(pid)]) {
        badHits +=
            Vector3{e.truth.tx[h], e.truth.ty[h], e.truth.tz[h]}.norm() > vertex.norm() + 1e-3;
      }
      // Energy and momentum at the vertex: the parent's four-momentum minus the daughter's
      // is a neutrino (mass 0) or a pi0.
      const bool kaon = std::abs(e.particles.pdgId[pk]) == 321;
      const double bigM = kaon ? kMK : kMPi;
      const Vector3 daughter{e.particles.px[k], e.particles.py[k], e.particles.pz[k]};
      const bool muon = std::abs(e.particles.pdgId[k]) == 13;
      CHECK(e.particles.charge[k] == e.particles.charge[pk]);
      CHECK((muon || (kaon && std::abs(e.particles.pdgId[k]) == 211)));
      const double m = muon ? kMMu : kMPi;
      const double missingMass = muon ? 0.0 : kMPi0;
      const double eRest = energy(parent, bigM) - energy(daughter, m);
      const Vector3 pRest = parent - daughter;
      worstMass = std::max(worstMass,
                           std::abs(eRest * eRest - pRest.dot(pRest) - missingMass * missingMass));
      const double pStar = (bigM * bigM - (m + missingMass) * (m + missingMass)) *
                           (bigM * bigM - (m - missingMass) * (m - missingMass));
      worstRest = std::max(worstRest, std::abs(restFrameMomentum(parent, bigM, daughter, m) -
                                               std::sqrt(pStar) / (2.0 * bigM)));
    }
    for (std::size_t k = 0; k < e.particles.size(); ++k) {
      const std::int64_t pid = e.particles.particleId[k];
      const int species = std::abs(e.particles.pdgId[k]);
      if (ParticleId::isSecondary(pid) || (species != 211 && species != 321)) continue;
      const Vector3 p{e.particles.px[k], e.particles.py[k], e.particles.pz[k]};
      const double mass = species == 211 ? kMPi : kMK;
      const double cTau = species == 211 ? kCTauPi : kCTauK;
      // Path length to the transverse radius, and the probability to decay before it.
      const double path = kRadius * p.norm() / p.perp();
      // A decay is seen through its daughter: every pion decay has one, a kaon's only in
      // its two-body modes (mu nu 63.56%, pi pi0 20.67%; PDG).
      const double seen = species == 211 ? 1.0 : kKaonTwoBody;
      const double probability = seen * (1.0 - std::exp(-path / (p.norm() / mass * cTau)));
      const auto it = decayVertex.find(pid);
      const bool decayed = it != decayVertex.end() && it->second.perp() < kRadius;
      Expectation& x = species == 211 ? pions : kaons;
      x.n += 1;
      x.count += decayed;
      x.expected += probability;
      x.variance += probability * (1.0 - probability);
    }
  }
  CAPTURE(pions.count, pions.expected, kaons.count, kaons.expected, daughters);
  REQUIRE(pions.expected > 500);
  REQUIRE(kaons.expected > 500);
  CHECK(pions.agrees());
  CHECK(kaons.agrees());
  // At this fixed p (eta ~ 0, L = R) all have 1 - exp(-R m / (p c tau)).
  for (const auto& [x, mass, cTau, seen] :
       {std::tuple{pions, kMPi, kCTauPi, 1.0}, {kaons, kMK, kCTauK, kKaonTwoBody}}) {
    const double f = seen * (1.0 - std::exp(-kRadius * mass / (kP * cTau)));
    CAPTURE(f, x.n);
    CHECK(std::abs(x.count - x.n * f) < 4.0 * std::sqrt(x.n * f * (1.0 - f)));
  }
  CHECK(badVertex == 0);
  CHECK(badHits == 0);
  CHECK(worstMass < 1e-5);                             // GeV^2; the event file holds floats
  CHECK(worstRest < 2e-5);                             // GeV
  CHECK(daughters > pions.count + 0.5 * kaons.count);  // decays beyond the radius too
}

TEST_CASE("Decay: off by default", "[sim][decay][generator]") {
  GeneratorConfig config = boxDecays(0.25);
  config.decays = false;
  const Event e = EventGenerator(trkaas::test::boxDetector(), config).generate(0);
  for (std::int64_t id : e.particles.particleId) CHECK_FALSE(ParticleId::isSecondary(id));
  // Low-momentum pions and kaons decay often: every secondary is a decay daughter.
  config.decays = true;
  config.hardScatterPtMin = 0.1;
  const Event d = EventGenerator(trkaas::test::boxDetector(), config).generate(0);
  std::size_t secondaries = 0;
  for (std::int64_t id : d.particles.particleId) {
    if (!ParticleId::isSecondary(id)) continue;
    ++secondaries;
    CHECK(ParticleId::process(id) == ParticleId::Process::kDecay);
    CHECK(ParticleId::parent(id) != id);
  }
  CHECK(secondaries > 100);
}
