#pragma once
/// Inelastic hadronic interactions of pions, kaons and protons in the tracker material:
/// the rate from the nuclear interaction length of silicon, and a simple final state of
/// charged secondaries (docs/generator.md says what it is and is not).

#include <cstdint>
#include <vector>

#include "trkaas/sim/Vector3.hpp"

namespace trkaas {

class Random;

/// Probability 1 - exp(-x / lambda_I) per material crossing of x g/cm2, lambda_I of
/// silicon from the PDG (108.4 g/cm2, 46.52 cm). The interacting hadron ends there; it
/// leaves a Poisson number of charged secondaries with mean 1 + 1.5 ln(1 + p / 0.5 GeV)
/// (a rough match to hadron-nucleus multiplicities at 1-10 GeV, not a fit): pi+, pi-
/// and protons (2:2:1), sharing `chargedFraction` of the momentum at random, each with
/// an exponential transverse momentum to the hadron's direction. Energy and charge are
/// not conserved within the visible secondaries (neutrals and the nucleus take the rest).
class HadronicInteraction {
 public:
  struct Config {
    double chargedFraction = 0.6;  ///< share of the hadron's momentum given to charged
    double meanPt = 0.3;           ///< GeV, mean transverse momentum to the hadron
    double minMomentum = 0.05;     ///< GeV, slower secondaries stop in the module
  };
  struct Secondary {
    std::int32_t pdg = 0;
    double mass = 0;
    int charge = 0;
    Vector3 momentum;
  };

  static constexpr double kSiliconInteractionLength = 108.4;  ///< lambda_I, g/cm2

  explicit HadronicInteraction(Config config);
  HadronicInteraction() : HadronicInteraction(Config{}) {}

  /// True for the species that interact: charged pions, kaons, protons.
  static bool interacts(std::int32_t pdg);
  /// Probability of an inelastic interaction in x g/cm2 of silicon(-equivalent).
  static double probability(double x);
  double meanMultiplicity(double p) const;
  /// Draws the charged secondaries of a hadron of this momentum (GeV) into `out`.
  void finalState(const Vector3& momentum, Random& rng, std::vector<Secondary>& out) const;

 private:
  Config m_config;
};

}  // namespace trkaas
