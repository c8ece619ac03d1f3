#pragma once
/// Decays in flight of charged pions and kaons: where they happen (the PDG proper decay
/// lengths) and the charged daughter that carries on (two-body kinematics).
/// docs/generator.md gives the sources and what is left out.

#include <cstdint>

#include "trkaas/sim/Vector3.hpp"

namespace trkaas {

class Random;

/// Decays of pi+- and K+- in flight (PDG Review of Particle Physics, Summary Tables):
///   pi -> mu nu                 99.99%  (pi -> e nu, 1.2e-4, is left out)
///   K  -> mu nu                 63.56%
///   K  -> pi pi0                20.67%  (the charged pion carries on)
///   K  -> three-body modes      15.77%  (pi pi pi, pi0 e nu, pi0 mu nu, pi pi0 pi0): the
///                                        kaon ends without a tracked daughter
/// The decay point: a proper path length drawn from exp(c tau) and used up at
/// ds / (beta gamma) along the trajectory, i.e. the exponential with mean beta gamma c tau
/// at the momentum of each stretch. Two-body daughters are isotropic in the rest frame and
/// boosted along the parent. Units: GeV, mm.
class Decay {
 public:
  static constexpr double kPionCTau = 7804.5;  ///< mm, c tau of pi+- (PDG)
  static constexpr double kKaonCTau = 3712.0;  ///< mm, c tau of K+- (PDG)
  static constexpr double kPionMass = 0.13957039;
  static constexpr double kKaonMass = 0.493677;
  static constexpr double kMuonMass = 0.1056583755;
  static constexpr double kPi0Mass = 0.1349768;
  static constexpr double kKaonToMuNu = 0.6356;   ///< branching fraction
  static constexpr double kKaonToPiPi0 = 0.2067;  ///< branching fraction

  /// The charged daughter of a decay.
  struct Daughter {
    std::int32_t pdg = 0;
    double mass = 0;
    int charge = 0;
    Vector3 momentum;
  };

  /// Proper decay length c tau (mm) of this species; 0 for one that does not decay here.
  static double properLength(std::int32_t pdg);
  /// Mean decay length in the laboratory, beta gamma c tau = (p / m) c tau (mm).
  static double meanLength(std::int32_t pdg, double mass, double p);
  /// Momentum of either daughter in the rest frame of a parent of mass `m` decaying to
  /// masses m1 and m2: sqrt((m^2 - (m1+m2)^2)(m^2 - (m1-m2)^2)) / 2m.
  static double twoBodyMomentum(double m, double m1, double m2);
  /// Momentum of daughter 1 (mass m1; the other has m2) of a two-body decay of a parent of
  /// mass m and momentum `parent`: isotropic in the rest frame, boosted to the laboratory.
  static Vector3 twoBody(const Vector3& parent, double m, double m1, double m2, Random& rng);
  /// Draws the decay mode of a pi+- or K+- (pdg, charge) of momentum `parent`. Returns
  /// false when the mode leaves no tracked daughter; otherwise fills `out`.
  static bool chargedDaughter(std::int32_t pdg, int charge, const Vector3& parent, Random& rng,
                              Daughter& out);
};

}  // namespace trkaas
