#pragma once
/// Bremsstrahlung of electrons and positrons in the tracker material, as the energy they
/// keep per material crossing (Bethe-Heitler; docs/generator.md gives the source).

#include <cstdint>

namespace trkaas {

class Random;

/// Fraction z of its energy that an electron keeps after t radiation lengths, drawn from
/// the Bethe-Heitler distribution f(z) = (-ln z)^(c-1) / Gamma(c), c = t / ln 2
/// (H. Bethe and W. Heitler, Proc. R. Soc. Lond. A 146 (1934) 83; the form the ATLAS and
/// ACTS Gaussian-sum filters model, e.g. R. Fruhwirth, Comput. Phys. Commun. 154 (2003)
/// 131). Then -ln z follows a Gamma distribution of shape c, and the mean of z is
/// 2^-c = exp(-t). The photon is not tracked (it carries no charge and makes no hits; its
/// conversions are not simulated either).
class Bremsstrahlung {
 public:
  /// True for the species that radiate here: electrons and positrons.
  static bool radiates(std::int32_t pdg);
  /// Mean of z after t radiation lengths: exp(-t).
  static double meanEnergyFraction(double t);
  /// Draws z for t >= 0 radiation lengths (1 for t = 0).
  static double sampleEnergyFraction(double t, Random& rng);
};

}  // namespace trkaas
