// Bremsstrahlung (sim/Bremsstrahlung.hpp): the Bethe-Heitler energy fraction on its own,
// and electrons against pions in whole events. Expectations come from the distribution
// f(z) = (-ln z)^(c-1) / Gamma(c), c = t / ln 2, worked out here: its moments are
// E[z^k] = (1 + k)^-c, so the mean is 2^-c = exp(-t).

#include <algorithm>
#include <cmath>
#include <map>
#include <vector>

#include "BoxDetector.hpp"
#include "Random.hpp"
#include "TrkaasCatch.hpp"
#include "trkaas/sim/Bremsstrahlung.hpp"
#include "trkaas/sim/EventGenerator.hpp"

using trkaas::Bremsstrahlung;
using trkaas::Event;
using trkaas::EventGenerator;
using trkaas::GeneratorConfig;
using trkaas::Random;
using trkaas::Vector3;

namespace {

constexpr double kSiliconX0 = 93.7;  // mm (PDG: 9.370 cm)

/// E[z^k] after t radiation lengths.
double moment(double t, double k) { return std::pow(1.0 + k, -t / std::log(2.0)); }

}  // namespace

TEST_CASE("Bremsstrahlung: the energy kept has the Bethe-Heitler mean exp(-t)",
          "[sim][bremsstrahlung]") {
  Random rng(11);
  for (const double t : {0.01, 0.05, 0.3, 1.0}) {
    const int n = 400000;
    double sum = 0.0;
    double sum2 = 0.0;
    double least = 1.0;
    for (int i = 0; i < n; ++i) {
      const double z = Bremsstrahlung::sampleEnergyFraction(t, rng);
      sum += z;
      sum2 += z * z;
      least = std::min(least, z);
      REQUIRE(z >= 0.0);
      REQUIRE(z <= 1.0);
    }
    const double mean = sum / n;
    const double sigma = std::sqrt(moment(t, 2) - moment(t, 1) * moment(t, 1));
    CAPTURE(t, mean, std::exp(-t), sigma);
    CHECK(std::abs(mean - std::exp(-t)) < 4.0 * sigma / std::sqrt(n));
    CHECK(Bremsstrahlung::meanEnergyFraction(t) == Approx(std::exp(-t)));
    // The second moment too: (1/3)^c.
    CHECK(sum2 / n == Approx(moment(t, 2)).epsilon(0.01));
    CHECK(least < 0.5);  // a long tail of hard photons, even for thin layers
  }
  CHECK(Bremsstrahlung::sampleEnergyFraction(0.0, rng) == 1.0);
  CHECK(Bremsstrahlung::radiates(11));
  CHECK(Bremsstrahlung::radiates(-11));
  CHECK_FALSE(Bremsstrahlung::radiates(211));
  CHECK_FALSE(Bremsstrahlung::radiates(13));
}

TEST_CASE("Bremsstrahlung: electrons lose energy through the layers, pions do not",
          "[sim][bremsstrahlung][generator]") {
  GeneratorConfig config = trkaas::test::boxBeam(1.0, 0.5);
  config.bremsstrahlung = true;
  config.hardScatterPtMean = 0.0;
  config.supportMaterial = 0.1;  // ~0.1 X0 per layer
  const EventGenerator gen(trkaas::test::boxDetector(), config);
  double measured = 0.0;  // sum over electrons of E(hit 10) / E(hit 1)
  double expected = 0.0;
  double variance = 0.0;
  std::size_t electrons = 0;
  std::size_t pions = 0;
  std::size_t pionsChanged = 0;
  for (std::int64_t id = 0; id < 12; ++id) {
    const Event e = gen.generate(id);
    std::map<std::int64_t, std::vector<std::size_t>> hits;
    for (std::size_t i = 0; i < e.hits.size(); ++i) hits[e.truth.particleId[i]].push_back(i);
    for (std::size_t k = 0; k < e.particles.size(); ++k) {
      const int species = std::abs(e.particles.pdgId[k]);
      if (species != 11 && species != 211) continue;
      std::vector<std::size_t> own = hits[e.particles.particleId[k]];
      REQUIRE(own.size() == 10);  // one hit per layer, nothing ends early
      std::sort(own.begin(), own.end(), [&](std::size_t a, std::size_t b) {
        return std::hypot(e.truth.tx[a], e.truth.ty[a]) < std::hypot(e.truth.tx[b], e.truth.ty[b]);
      });
      const auto momentum = [&](std::size_t h) {
        return Vector3{e.truth.tpx[h], e.truth.tpy[h], e.truth.tpz[h]}.norm();
      };
      const Vector3 p0{e.particles.px[k], e.particles.py[k], e.particles.pz[k]};
      if (species == 211) {
        ++pions;
        for (std::size_t h : own) pionsChanged += std::abs(momentum(h) - p0.norm()) > 1e-6;
        continue;
      }
      ++electrons;
      // Nine crossings between the first and the last hit, each of t radiation lengths
      // at this particle's incidence (the same on every layer of the box).
      const Vector3 u = p0.unit();
      const double t =
          (0.3 / kSiliconX0 + config.supportMaterial) / std::max(std::abs(u.x), std::abs(u.y));
      const double c = 9.0 * t / std::log(2.0);                  // shapes add up over the crossings
      measured += momentum(own.back()) / momentum(own.front());  // E = p at 1 GeV
      expected += std::pow(2.0, -c);
      variance += std::pow(3.0, -c) - std::pow(4.0, -c);
    }
  }
  CAPTURE(electrons, measured, expected, std::sqrt(variance));
  REQUIRE(electrons > 400);
  REQUIRE(pions > 10000);
  CHECK(pionsChanged == 0);
  CHECK(std::abs(measured - expected) < 4.0 * std::sqrt(variance));
  CHECK(measured < 0.8 * electrons);  // they do lose a good part of their energy
}
