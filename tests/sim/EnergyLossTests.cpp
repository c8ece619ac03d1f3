// Energy loss in silicon against the PDG Review of Particle Physics ("Passage of particles
// through matter"), with the formulas written out here again so that the test does not
// trust the code it checks.

#include <algorithm>
#include <cmath>
#include <vector>

#include "PdgFormulas.hpp"
#include "Random.hpp"
#include "TrkaasCatch.hpp"
#include "trkaas/sim/EnergyLoss.hpp"

using trkaas::EnergyLoss;
using trkaas::Random;
using trkaas::test::betheMeV;
using trkaas::test::kMe;
using trkaas::test::mostProbableMeV;
using trkaas::test::pdg;
using trkaas::test::Pdg;

namespace {

constexpr double kMuon = 0.1056583755;  // GeV
constexpr double kPion = 0.13957039;    // GeV
constexpr double kProton = 0.93827209;  // GeV
constexpr double kSiDensity = 2.329;    // g/cm3

std::vector<double> sampleLosses(double mass, double p, double x, int n, std::uint64_t seed) {
  const EnergyLoss loss;
  Random rng(seed);
  EnergyLoss::Crossing c;
  std::vector<double> out(static_cast<std::size_t>(n));
  for (double& v : out) {
    loss.sample(mass, p, x, rng, c);
    v = c.loss * 1e3;  // MeV
  }
  return out;
}

double mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}

/// The mode from a histogram of `width` MeV bins, refined by the mean of the three
/// bins around the peak.
double mode(const std::vector<double>& v, double width) {
  const double hi = *std::max_element(v.begin(), v.end());
  std::vector<double> h(static_cast<std::size_t>(hi / width) + 2, 0.0);
  for (double x : v) h[static_cast<std::size_t>(x / width)] += 1;
  const std::size_t k = static_cast<std::size_t>(std::max_element(h.begin(), h.end()) - h.begin());
  if (k == 0) return 0.5 * width;
  const double w = h[k - 1] + h[k] + h[k + 1];
  return width * ((k - 0.5) * h[k - 1] + (k + 0.5) * h[k] + (k + 1.5) * h[k + 1]) / w;
}

}  // namespace

TEST_CASE("EnergyLoss: minimum ionisation of silicon is the PDG table's 1.664 MeV cm2/g",
          "[sim][energyloss]") {
  // A published number (PDG atomic and nuclear properties, Si, muon), not the formula.
  double minimum = 1e9;
  for (double bg = 1.0; bg < 10.0; bg *= 1.01) {
    minimum = std::min(minimum, EnergyLoss::meanLoss(kMuon, bg * kMuon, 1.0) * 1e3);
  }
  CHECK(minimum == Approx(1.664).epsilon(0.01));
}

TEST_CASE("EnergyLoss: the formulas are the PDG ones", "[sim][energyloss]") {
  const double x = 0.03 * kSiDensity;  // 300 um
  for (double mass : {kMuon, kPion, kProton}) {
    for (double p : {0.3, 1.0, 10.0}) {
      CAPTURE(mass, p);
      CHECK(EnergyLoss::meanLoss(mass, p, x) * 1e3 == Approx(betheMeV(mass, p, x)).epsilon(1e-9));
      CHECK(EnergyLoss::mostProbableLoss(mass, p, x) * 1e3 ==
            Approx(mostProbableMeV(mass, p, x)).epsilon(1e-9));
      CHECK(EnergyLoss::maxTransfer(mass, p) * 1e3 == Approx(pdg(mass, p, x).wmax).epsilon(1e-9));
    }
  }
}

TEST_CASE("EnergyLoss: sampled losses have the Bethe mean and the most probable value",
          "[sim][energyloss]") {
  const double x = 0.03 * kSiDensity;  // 300 um of silicon at normal incidence
  SECTION("muon at beta gamma 3.6 (near minimum)") {
    const double p = 3.6 * kMuon;
    const std::vector<double> v = sampleLosses(kMuon, p, x, 400000, 11);
    // Tail up to W_max ~ 13 MeV: the mean of 4e5 draws is good to ~0.5%.
    CHECK(mean(v) == Approx(betheMeV(kMuon, p, x)).epsilon(0.02));
    CHECK(mode(v, 0.002) == Approx(mostProbableMeV(kMuon, p, x)).epsilon(0.05));
    // Landau: the mean is well above the most probable value (PDG: ~0.7 ratio in
    // 300 um of silicon), unlike a Gaussian.
    CHECK(mode(v, 0.002) / mean(v) < 0.8);
  }
  SECTION("slow proton (beta gamma 0.53): 1/beta^2 rise") {
    const double p = 0.5;
    const std::vector<double> v = sampleLosses(kProton, p, x, 200000, 12);
    CHECK(mean(v) == Approx(betheMeV(kProton, p, x)).epsilon(0.02));
    CHECK(mode(v, 0.005) == Approx(mostProbableMeV(kProton, p, x)).epsilon(0.05));
  }
  SECTION("the support material of a module (0.01 X0 of silicon-equivalent)") {
    const double support = 0.01 * 21.82;
    const std::vector<double> v = sampleLosses(kPion, 1.0, support, 200000, 13);
    CHECK(mean(v) == Approx(betheMeV(kPion, 1.0, support)).epsilon(0.02));
    CHECK(mode(v, 0.005) == Approx(mostProbableMeV(kPion, 1.0, support)).epsilon(0.05));
  }
}

TEST_CASE("EnergyLoss: delta electrons follow the PDG delta-ray spectrum", "[sim][energyloss]") {
  const EnergyLoss loss;
  const double x = 0.015 * kSiDensity;  // 150 um pixel
  const double p = 1.0;
  const double t0 = 0.1;  // MeV: count deltas above 100 keV
  // d2N/dTdx = (K/2)(Z/A)(1/beta^2)(1 - beta^2 T/W)/T^2 integrated from t0 to W.
  const Pdg r = pdg(kPion, p, x);
  const double expected = r.xi * ((1 / t0 - 1 / r.wmax) - r.beta2 / r.wmax * std::log(r.wmax / t0));
  Random rng(5);
  EnergyLoss::Crossing c;
  const int n = 400000;
  double count = 0;
  double countHigh = 0;  // above 1 MeV: checks the 1/T^2 shape, not just the rate
  double aboveMax = 0;
  for (int k = 0; k < n; ++k) {
    loss.sample(kPion, p, x, rng, c);
    for (double t : c.deltas) {
      count += t * 1e3 > t0;
      countHigh += t * 1e3 > 1.0;
      aboveMax += t * 1e3 > r.wmax;
    }
  }
  const double expectedHigh =
      r.xi * ((1 / 1.0 - 1 / r.wmax) - r.beta2 / r.wmax * std::log(r.wmax / 1.0));
  CHECK(aboveMax == 0);
  CHECK(count / n == Approx(expected).epsilon(0.03));
  CHECK(countHigh / n == Approx(expectedHigh).epsilon(0.1));
  CHECK(EnergyLoss::deltaRaysAbove(kPion, p, x, t0 * 1e-3) == Approx(expected).epsilon(1e-9));
}

TEST_CASE("EnergyLoss: delta angle and electron range", "[sim][energyloss]") {
  // cos theta = (T/p_e)(p_max/W_max): a delta at W_max goes forward, soft ones sideways.
  const double w = EnergyLoss::maxTransfer(kPion, 1.0);
  CHECK(EnergyLoss::deltaCosTheta(kPion, 1.0, w) == Approx(1.0));
  const double t = 0.2e-3;
  const double pe = std::sqrt(t * t + 2 * kMe * 1e-3 * t);
  const double pMax = std::sqrt(w * w + 2 * kMe * 1e-3 * w);
  CHECK(EnergyLoss::deltaCosTheta(kPion, 1.0, t) == Approx(t / pe * pMax / w));
  // Katz-Penfold: R = 412 mg/cm2 at 1 MeV, 0.530 T - 0.106 above 2.5 MeV.
  CHECK(EnergyLoss::electronRange(1e-3) == Approx(0.412));
  CHECK(EnergyLoss::electronRange(5e-3) == Approx(0.530 * 5 - 0.106));
  const double after = EnergyLoss::electronEnergyAfter(1e-3, 0.1);
  CHECK(EnergyLoss::electronRange(after) == Approx(0.412 - 0.1).epsilon(1e-6));
  CHECK(EnergyLoss::electronEnergyAfter(1e-3, 0.5) == 0.0);
}
