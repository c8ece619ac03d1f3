#pragma once
// The PDG Review of Particle Physics ("Passage of particles through matter") formulas for
// silicon, written out for the sim tests independently of sim/EnergyLoss.

#include <cmath>

namespace trkaas::test {

inline constexpr double kMe = 0.51099895;  // electron mass, MeV

struct Pdg {
  double beta2, bg2, gamma, wmax, delta, xi;  // energies in MeV
};

/// Kinematics, W_max, density effect and xi for a singly charged particle (GeV) in x g/cm2
/// of silicon: K = 0.307075 MeV mol-1 cm2, Z/A = 14/28.0855; Sternheimer: Cbar 4.4355,
/// x0 0.2014, x1 2.8715, a 0.14921, k 3.2546, delta0 0.14.
inline Pdg pdg(double massGeV, double pGeV, double x) {
  const double m = massGeV * 1e3, p = pGeV * 1e3;
  Pdg r;
  r.gamma = std::sqrt(p * p + m * m) / m;
  r.bg2 = (p / m) * (p / m);
  r.beta2 = r.bg2 / (r.gamma * r.gamma);
  r.wmax = 2 * kMe * r.bg2 / (1 + 2 * r.gamma * kMe / m + (kMe / m) * (kMe / m));
  const double lx = std::log10(std::sqrt(r.bg2));
  if (lx < 0.2014) {
    r.delta = 0.14 * std::pow(10.0, 2 * (lx - 0.2014));
  } else {
    r.delta = 2 * std::log(10.0) * lx - 4.4355;
    if (lx < 2.8715) r.delta += 0.14921 * std::pow(2.8715 - lx, 3.2546);
  }
  r.xi = 0.5 * 0.307075 * (14.0 / 28.0855) * x / r.beta2;
  return r;
}

/// Bethe equation, MeV.
inline double betheMeV(double massGeV, double pGeV, double x) {
  const Pdg r = pdg(massGeV, pGeV, x);
  const double i = 173e-6;
  return 2 * r.xi * (0.5 * std::log(2 * kMe * r.bg2 * r.wmax / (i * i)) - r.beta2 - r.delta / 2);
}

/// Landau-Vavilov-Bichsel most probable loss, MeV (j = 0.200).
inline double mostProbableMeV(double massGeV, double pGeV, double x) {
  const Pdg r = pdg(massGeV, pGeV, x);
  const double i = 173e-6;
  return r.xi * (std::log(2 * kMe * r.bg2 / i) + std::log(r.xi / i) + 0.2 - r.beta2 - r.delta);
}

}  // namespace trkaas::test
