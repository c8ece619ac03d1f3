#include "trkaas/sim/PtSpectrum.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "trkaas/core/Error.hpp"

namespace trkaas {

namespace {
constexpr int kTablePoints = 4096;
}

PtSpectrum::PtSpectrum(Config config) : m_config(config) {
  if (!(config.p0 > 0.0) || !std::isfinite(config.p0)) {
    throw Error("PtSpectrum::Config.p0 must be > 0 GeV (got " + std::to_string(config.p0) + ")");
  }
  if (!(config.n > 2.0) || !std::isfinite(config.n)) {
    throw Error("PtSpectrum::Config.n must be > 2 (got " + std::to_string(config.n) + ")");
  }
  if (!(config.ptMin > 0.0) || !(config.ptMax > config.ptMin) || !std::isfinite(config.ptMax)) {
    throw Error("PtSpectrum::Config: need 0 < ptMin < ptMax (got ptMin " +
                std::to_string(config.ptMin) + " GeV, ptMax " + std::to_string(config.ptMax) +
                " GeV)");
  }
  m_norm = primitive(config.ptMax) - primitive(config.ptMin);
  m_pt.resize(kTablePoints);
  m_cdf.resize(kTablePoints);
  const double logMin = std::log(config.ptMin);
  const double logMax = std::log(config.ptMax);
  for (int i = 0; i < kTablePoints; ++i) {
    m_pt[i] = std::exp(logMin + (logMax - logMin) * i / (kTablePoints - 1));
    m_cdf[i] = (primitive(m_pt[i]) - primitive(config.ptMin)) / m_norm;
  }
  m_pt.front() = config.ptMin;
  m_pt.back() = config.ptMax;
  m_cdf.front() = 0.0;
  m_cdf.back() = 1.0;
}

double PtSpectrum::primitive(double pt) const {
  // Integral of pT (1 + pT/p0)^-n: with y = 1 + pT/p0 it is
  // p0^2 [ y^(2-n) / (2-n) - y^(1-n) / (1-n) ].
  const double n = m_config.n;
  const double y = 1.0 + pt / m_config.p0;
  return m_config.p0 * m_config.p0 *
         (std::pow(y, 2.0 - n) / (2.0 - n) - std::pow(y, 1.0 - n) / (1.0 - n));
}

double PtSpectrum::density(double pt) const {
  if (pt < m_config.ptMin || pt > m_config.ptMax) return 0.0;
  return pt * std::pow(1.0 + pt / m_config.p0, -m_config.n) / m_norm;
}

double PtSpectrum::cdf(double pt) const {
  if (pt <= m_config.ptMin) return 0.0;
  if (pt >= m_config.ptMax) return 1.0;
  return (primitive(pt) - primitive(m_config.ptMin)) / m_norm;
}

double PtSpectrum::peak() const {
  // d/dpT [pT (1 + pT/p0)^-n] = 0 at pT = p0 / (n - 1).
  return std::clamp(m_config.p0 / (m_config.n - 1.0), m_config.ptMin, m_config.ptMax);
}

double PtSpectrum::sample(double u) const {
  u = std::clamp(u, 0.0, 1.0);
  const auto it = std::upper_bound(m_cdf.begin(), m_cdf.end(), u);
  if (it == m_cdf.end()) return m_config.ptMax;
  const std::size_t hi = static_cast<std::size_t>(it - m_cdf.begin());
  const std::size_t lo = hi - 1;
  const double span = m_cdf[hi] - m_cdf[lo];
  const double t = span > 0.0 ? (u - m_cdf[lo]) / span : 0.0;
  // Interpolate in log pT: the table is log-spaced.
  return std::exp(std::log(m_pt[lo]) + t * (std::log(m_pt[hi]) - std::log(m_pt[lo])));
}

}  // namespace trkaas
