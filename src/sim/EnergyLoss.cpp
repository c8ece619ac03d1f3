#include "trkaas/sim/EnergyLoss.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "Random.hpp"
#include "trkaas/core/Error.hpp"

namespace trkaas {

namespace {

/// Sternheimer density-effect parameters of silicon (PDG atomic and nuclear properties).
constexpr double kDensityCbar = 4.4355;
constexpr double kDensityX0 = 0.2014;
constexpr double kDensityX1 = 2.8715;
constexpr double kDensityA = 0.14921;
constexpr double kDensityK = 3.2546;
constexpr double kDensityDelta0 = 0.14;
/// Constant j of the most probable loss (Bichsel).
constexpr double kMostProbableJ = 0.200;
/// Below this mass (GeV) the particle is an electron: Moller maximum transfer T/2.
constexpr double kElectronLikeMass = 1e-3;

struct Kinematics {
  double beta2 = 0;
  double betaGamma2 = 0;
  double gamma = 0;
};

Kinematics kinematics(double mass, double p) {
  Kinematics k;
  const double e = std::sqrt(p * p + mass * mass);
  k.beta2 = (p * p) / (e * e);
  k.betaGamma2 = (p * p) / (mass * mass);
  k.gamma = e / mass;
  return k;
}

/// Katz-Penfold range (g/cm2) of an electron of kinetic energy t (MeV).
double rangeMeV(double t) {
  if (t <= 0.0) return 0.0;
  if (t > 2.5) return 0.530 * t - 0.106;
  return 0.412 * std::pow(t, 1.265 - 0.0954 * std::log(t));
}

}  // namespace

EnergyLoss::EnergyLoss(Config config) : m_config(config) {
  if (!(m_config.cutFraction > 0.0 && m_config.cutFraction <= 1.0)) {
    throw Error("EnergyLoss: cutFraction must be in (0, 1] (got " +
                std::to_string(m_config.cutFraction) + ")");
  }
  if (!(m_config.minCut >= 0.0 && std::isfinite(m_config.minCut))) {
    throw Error("EnergyLoss: minCut must be >= 0 GeV (got " + std::to_string(m_config.minCut) +
                ")");
  }
}

double EnergyLoss::maxTransfer(double mass, double p) {
  const Kinematics k = kinematics(mass, p);
  if (mass < kElectronLikeMass) return 0.5 * (std::sqrt(p * p + mass * mass) - mass);
  const double ratio = kElectronMass / mass;
  return 2.0 * kElectronMass * k.betaGamma2 / (1.0 + 2.0 * k.gamma * ratio + ratio * ratio);
}

double EnergyLoss::densityCorrection(double betaGamma) {
  const double x = std::log10(betaGamma);
  const double full = 2.0 * std::log(10.0) * x - kDensityCbar;
  if (x >= kDensityX1) return full;
  if (x >= kDensityX0) return full + kDensityA * std::pow(kDensityX1 - x, kDensityK);
  return kDensityDelta0 * std::pow(10.0, 2.0 * (x - kDensityX0));
}

double EnergyLoss::landauWidth(double mass, double p, double x) {
  return 0.5 * kK * kZOverA * x / kinematics(mass, p).beta2;
}

double EnergyLoss::meanLoss(double mass, double p, double x) {
  const Kinematics k = kinematics(mass, p);
  const double w = maxTransfer(mass, p);
  const double delta = densityCorrection(std::sqrt(k.betaGamma2));
  const double bracket =
      0.5 * std::log(2.0 * kElectronMass * k.betaGamma2 * w / (kMeanExcitation * kMeanExcitation)) -
      k.beta2 - 0.5 * delta;
  return std::max(0.0, 2.0 * landauWidth(mass, p, x) * bracket);
}

double EnergyLoss::restrictedMeanLoss(double mass, double p, double x, double cut) {
  const double w = maxTransfer(mass, p);
  if (cut >= w) return meanLoss(mass, p, x);
  const Kinematics k = kinematics(mass, p);
  const double delta = densityCorrection(std::sqrt(k.betaGamma2));
  const double bracket = 0.5 * std::log(2.0 * kElectronMass * k.betaGamma2 * cut /
                                        (kMeanExcitation * kMeanExcitation)) -
                         0.5 * k.beta2 * (1.0 + cut / w) - 0.5 * delta;
  return std::max(0.0, 2.0 * landauWidth(mass, p, x) * bracket);
}

double EnergyLoss::mostProbableLoss(double mass, double p, double x) {
  const Kinematics k = kinematics(mass, p);
  const double xi = landauWidth(mass, p, x);
  if (xi <= 0.0) return 0.0;
  const double delta = densityCorrection(std::sqrt(k.betaGamma2));
  return xi * (std::log(2.0 * kElectronMass * k.betaGamma2 / kMeanExcitation) +
               std::log(xi / kMeanExcitation) + kMostProbableJ - k.beta2 - delta);
}

double EnergyLoss::deltaRaysAbove(double mass, double p, double x, double t) {
  const double w = maxTransfer(mass, p);
  if (t >= w) return 0.0;
  const double beta2 = kinematics(mass, p).beta2;
  return landauWidth(mass, p, x) * ((1.0 / t - 1.0 / w) - beta2 / w * std::log(w / t));
}

double EnergyLoss::deltaCosTheta(double mass, double p, double t) {
  const double w = maxTransfer(mass, p);
  const double pe = std::sqrt(t * t + 2.0 * kElectronMass * t);
  const double pMax = std::sqrt(w * w + 2.0 * kElectronMass * w);
  return std::min(1.0, (t / pe) * (pMax / w));
}

double EnergyLoss::electronRange(double t) { return rangeMeV(t * 1e3); }

double EnergyLoss::electronEnergyAfter(double t, double path) {
  const double left = electronRange(t) - path;
  if (left <= 0.0) return 0.0;
  double lo = 0.0;
  double hi = t;
  for (int iter = 0; iter < 60; ++iter) {  // the range grows with the energy
    const double mid = 0.5 * (lo + hi);
    (electronRange(mid) < left ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

double EnergyLoss::cut(double mass, double p, double x) const {
  const double c = std::max(m_config.minCut, m_config.cutFraction * landauWidth(mass, p, x));
  return std::min(c, maxTransfer(mass, p));
}

void EnergyLoss::sample(double mass, double p, double x, Random& rng, Crossing& out) const {
  out.deltas.clear();
  out.loss = 0.0;
  if (!(x > 0.0)) return;
  const double xi = landauWidth(mass, p, x);
  const double w = maxTransfer(mass, p);
  const double tc = cut(mass, p, x);
  // Many small transfers below the cut: Gaussian with the variance of the 1/T^2
  // spectrum up to T_c, xi * T_c.
  const double continuous = restrictedMeanLoss(mass, p, x, tc) + std::sqrt(xi * tc) * rng.normal();
  out.loss = std::max(0.0, continuous);
  if (tc >= w) return;
  // Above the cut: a Poisson number from the pure 1/T^2 spectrum, each kept with the
  // spin-0 factor F = 1 - beta^2 T / W_max (a thinned Poisson process).
  const double beta2 = kinematics(mass, p).beta2;
  const std::int64_t n = rng.poisson(xi * (1.0 / tc - 1.0 / w));
  for (std::int64_t k = 0; k < n; ++k) {
    const double t = tc * w / (w - rng.uniform() * (w - tc));
    if (rng.uniform() >= 1.0 - beta2 * t / w) continue;
    out.deltas.push_back(t);
    out.loss += t;
  }
}

}  // namespace trkaas
