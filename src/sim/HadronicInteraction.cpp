#include "trkaas/sim/HadronicInteraction.hpp"

#include <cmath>
#include <cstdlib>
#include <string>

#include "Random.hpp"
#include "trkaas/core/Error.hpp"

namespace trkaas {

namespace {

constexpr double kPionMass = 0.13957039;
constexpr double kProtonMass = 0.93827209;
/// Secondaries per interaction are capped: a Poisson tail this far out is not physics.
constexpr std::int64_t kMaxSecondaries = 30;

}  // namespace

HadronicInteraction::HadronicInteraction(Config config) : m_config(config) {
  if (!(m_config.chargedFraction > 0.0 && m_config.chargedFraction <= 1.0)) {
    throw Error("HadronicInteraction: chargedFraction must be in (0, 1] (got " +
                std::to_string(m_config.chargedFraction) + ")");
  }
  if (!(m_config.meanPt >= 0.0) || !(m_config.minMomentum >= 0.0)) {
    throw Error("HadronicInteraction: meanPt and minMomentum must be >= 0 GeV");
  }
}

bool HadronicInteraction::interacts(std::int32_t pdg) {
  const int a = std::abs(pdg);
  return a == 211 || a == 321 || a == 2212;
}

double HadronicInteraction::probability(double x) {
  return -std::expm1(-x / kSiliconInteractionLength);
}

double HadronicInteraction::meanMultiplicity(double p) const {
  return 1.0 + 1.5 * std::log1p(p / 0.5);
}

void HadronicInteraction::finalState(const Vector3& momentum, Random& rng,
                                     std::vector<Secondary>& out) const {
  out.clear();
  const double p = momentum.norm();
  const std::int64_t n = std::min(rng.poisson(meanMultiplicity(p)), kMaxSecondaries);
  if (n == 0) return;
  // Random shares of the charged momentum: normalised exponentials (flat on the simplex).
  std::vector<double> share(static_cast<std::size_t>(n));
  double sum = 0.0;
  for (double& s : share) sum += (s = rng.exponential(1.0));
  const Vector3 dir = momentum.unit();
  const Vector3 axis = std::abs(dir.z) < 0.9 ? Vector3{0, 0, 1} : Vector3{1, 0, 0};
  const Vector3 e1 = dir.cross(axis).unit();
  const Vector3 e2 = dir.cross(e1);
  for (double s : share) {
    const double pi = m_config.chargedFraction * p * s / sum;
    const double u = rng.uniform();
    const double phi = rng.uniform(0.0, 2.0 * M_PI);
    double pt = rng.exponential(m_config.meanPt);
    if (pt >= pi) pt = pi * rng.uniform();
    if (pi < m_config.minMomentum) continue;
    Secondary sec;
    if (u < 0.4) {
      sec = {211, kPionMass, 1, {}};
    } else if (u < 0.8) {
      sec = {-211, kPionMass, -1, {}};
    } else {
      sec = {2212, kProtonMass, 1, {}};
    }
    const double pl = std::sqrt(pi * pi - pt * pt);
    sec.momentum = dir * pl + e1 * (pt * std::cos(phi)) + e2 * (pt * std::sin(phi));
    out.push_back(sec);
  }
}

}  // namespace trkaas
