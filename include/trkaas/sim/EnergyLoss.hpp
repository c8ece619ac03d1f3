#pragma once
/// Ionisation energy loss of singly charged particles in silicon, with its fluctuations
/// and the delta electrons that make them (PDG Review of Particle Physics, "Passage of
/// particles through matter"; docs/generator.md gives the equations and their sources).

#include <vector>

namespace trkaas {

class Random;

/// Bethe-Bloch mean and most probable energy loss in silicon, and a sampler whose
/// fluctuations come from the delta-ray spectrum itself: collisions that transfer more
/// than a cut T_c are drawn one by one from d2N/dTdx ~ (1 - beta^2 T/W_max) / T^2, the
/// rest is a Gaussian around the restricted mean below T_c. The sum has the Bethe-Bloch
/// mean by construction and a Landau-like shape when T_c is small against the Landau
/// width xi (the cut is a fraction of xi). Units: GeV, g/cm2 (mass thickness), charge 1.
///
/// Electrons use the same formula with the Moller maximum transfer T/2 (ionisation only:
/// no bremsstrahlung), which is within ~10% of the tabulated collision stopping power
/// near 1 MeV; heavy-particle formulas are valid for 0.1 < beta gamma < 1000.
class EnergyLoss {
 public:
  struct Config {
    /// Cut between continuous and discrete collisions, as a fraction of xi ...
    double cutFraction = 0.1;
    /// ... but not below this (GeV): the free-electron spectrum needs T_c >> I = 173 eV.
    double minCut = 2e-7;
  };

  /// Silicon constants (PDG "Atomic and nuclear properties of materials", Si).
  static constexpr double kZOverA = 14.0 / 28.0855;
  static constexpr double kMeanExcitation = 173.0e-9;  ///< I, GeV
  static constexpr double kDensity = 2.329;            ///< g/cm3
  static constexpr double kRadiationLength = 21.82;    ///< X0, g/cm2 (93.7 mm)
  /// K = 4 pi N_A r_e^2 m_e c^2, GeV mol^-1 cm2.
  static constexpr double kK = 0.307075e-3;
  static constexpr double kElectronMass = 0.51099895e-3;  ///< GeV

  /// One material crossing: the energy lost and the delta electrons above the cut.
  struct Crossing {
    double loss = 0.0;           ///< GeV, total (continuous part + every delta)
    std::vector<double> deltas;  ///< kinetic energies (GeV) of the deltas above T_c
  };

  /// Validates the config; throws trkaas::Error on a bad one.
  explicit EnergyLoss(Config config);
  EnergyLoss() : EnergyLoss(Config{}) {}

  /// Maximum kinetic energy transferred to a free electron, W_max (GeV).
  static double maxTransfer(double mass, double p);
  /// Density-effect correction delta(beta gamma) (Sternheimer parameters of silicon).
  static double densityCorrection(double betaGamma);
  /// Landau width xi = (K/2) (Z/A) x / beta^2 (GeV) for x g/cm2.
  static double landauWidth(double mass, double p, double x);
  /// Bethe-Bloch mean energy loss in x g/cm2 (GeV).
  static double meanLoss(double mass, double p, double x);
  /// Mean energy loss from collisions that transfer less than `cut` (GeV).
  static double restrictedMeanLoss(double mass, double p, double x, double cut);
  /// Landau-Vavilov-Bichsel most probable energy loss in x g/cm2 (GeV).
  static double mostProbableLoss(double mass, double p, double x);
  /// Expected number of delta electrons with kinetic energy above t in x g/cm2.
  static double deltaRaysAbove(double mass, double p, double x, double t);
  /// Cosine of a delta electron's angle to the particle, from two-body kinematics.
  static double deltaCosTheta(double mass, double p, double t);
  /// Continuous-slowing-down range of an electron of kinetic energy t in silicon (g/cm2;
  /// Katz-Penfold range-energy relation), and the kinetic energy left after `path` g/cm2.
  static double electronRange(double t);
  static double electronEnergyAfter(double t, double path);

  /// The cut T_c used for a crossing of x g/cm2.
  double cut(double mass, double p, double x) const;
  /// Draws the energy lost in x g/cm2 by a particle of this mass and momentum.
  void sample(double mass, double p, double x, Random& rng, Crossing& out) const;

 private:
  Config m_config;
};

}  // namespace trkaas
