#pragma once
/// Soft transverse-momentum spectrum of minimum-bias charged particles.

#include <vector>

namespace trkaas {

/// Hagedorn (power-law) spectrum dN/dpT ~ pT * (1 + pT/p0)^-n on [ptMin, ptMax] GeV.
/// With the defaults (p0 = 1.3 GeV, n = 8, fits to charged hadrons at the LHC) the
/// density peaks near 0.19 GeV, the mean is about 0.5 GeV above 0.1 GeV, and the tail
/// reaches tens of GeV. Sampling inverts a tabulated analytic CDF, so it is exact to
/// interpolation error and identical on every platform for the same uniform numbers.
class PtSpectrum {
 public:
  struct Config {
    double p0 = 1.3;       ///< GeV, scale of the power law
    double n = 8.0;        ///< power, > 2
    double ptMin = 0.1;    ///< GeV, > 0
    double ptMax = 100.0;  ///< GeV, > ptMin
  };

  /// Throws Error with a precise message if the config is invalid.
  explicit PtSpectrum(Config config);

  /// pT (GeV) for a uniform number u in [0, 1).
  double sample(double u) const;
  /// Normalised density at pT (GeV^-1); 0 outside [ptMin, ptMax].
  double density(double pt) const;
  /// Fraction of particles with pT below `pt`.
  double cdf(double pt) const;
  /// The pT at which the density is largest.
  double peak() const;
  const Config& config() const { return m_config; }

 private:
  double primitive(double pt) const;

  Config m_config;
  double m_norm = 1.0;
  std::vector<double> m_pt;   ///< log-spaced grid
  std::vector<double> m_cdf;  ///< CDF at m_pt, ascending from 0 to 1
};

}  // namespace trkaas
