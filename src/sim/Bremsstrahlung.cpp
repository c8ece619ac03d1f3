#include "trkaas/sim/Bremsstrahlung.hpp"

#include <cmath>
#include <cstdlib>

#include "Random.hpp"

namespace trkaas {

bool Bremsstrahlung::radiates(std::int32_t pdg) { return std::abs(pdg) == 11; }

double Bremsstrahlung::meanEnergyFraction(double t) { return std::exp(-t); }

double Bremsstrahlung::sampleEnergyFraction(double t, Random& rng) {
  if (!(t > 0.0)) return 1.0;
  return std::exp(-rng.gamma(t / std::log(2.0)));
}

}  // namespace trkaas
