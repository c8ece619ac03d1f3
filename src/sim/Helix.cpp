#include "trkaas/sim/Helix.hpp"

#include <cmath>
#include <limits>

#include "trkaas/core/Error.hpp"

namespace trkaas {

Helix::Helix(const Vector3& position, const Vector3& momentum, double charge, double bField)
    : m_origin(position), m_charge(charge), m_bField(bField) {
  m_p = momentum.norm();
  if (!(m_p > 0.0) || !std::isfinite(m_p)) {
    throw Error("Helix: momentum must be finite and non-zero");
  }
  m_dir = momentum * (1.0 / m_p);
  m_k = -charge * bField * kMomentumPerTeslaMm / m_p;
}

Vector3 Helix::position(double s) const {
  // Chord form: the transverse displacement is the initial transverse direction rotated
  // by half the turning angle, with length s * sinc(a / 2). Exact, and stable for a -> 0.
  const double half = 0.5 * m_k * s;
  double c = 1.0;
  double sn = 0.0;
  double sinc = 1.0;
  if (half != 0.0) {
    sn = std::sin(half);
    c = std::cos(half);
    sinc = std::abs(half) < 1e-4 ? 1.0 - half * half / 6.0 : sn / half;
  }
  const double len = s * sinc;
  return {m_origin.x + len * (c * m_dir.x - sn * m_dir.y),
          m_origin.y + len * (sn * m_dir.x + c * m_dir.y), m_origin.z + s * m_dir.z};
}

Vector3 Helix::direction(double s) const {
  const double a = m_k * s;
  if (a == 0.0) return m_dir;
  const double c = std::cos(a);
  const double sn = std::sin(a);
  return {c * m_dir.x - sn * m_dir.y, sn * m_dir.x + c * m_dir.y, m_dir.z};
}

double Helix::radius() const {
  if (m_k == 0.0) return std::numeric_limits<double>::infinity();
  return m_dir.perp() / std::abs(m_k);
}

Vector3 Helix::centre() const {
  if (m_k == 0.0) return m_origin;
  // The centre lies to the left of the transverse direction for k > 0.
  return {m_origin.x - m_dir.y / m_k, m_origin.y + m_dir.x / m_k, m_origin.z};
}

double Helix::turnLength() const {
  if (m_k == 0.0) return std::numeric_limits<double>::infinity();
  return 2.0 * M_PI / std::abs(m_k);
}

double Helix::planeCrossing(const Vector3& normal, const Vector3& point, double s0, double s1,
                            double f0, double f1, double tolerance) const {
  if (f0 == 0.0) return s0;
  if (f1 == 0.0) return s1;
  // Newton steps safeguarded by bisection inside the bracket [s0, s1].
  double lo = s0;
  double hi = s1;
  double flo = f0;
  double s = s0 + (s1 - s0) * f0 / (f0 - f1);
  for (int iter = 0; iter < 60; ++iter) {
    const double f = normal.dot(position(s) - point);
    if (std::abs(f) <= tolerance) return s;
    if ((f < 0.0) == (flo < 0.0)) {
      lo = s;
      flo = f;
    } else {
      hi = s;
    }
    const double df = normal.dot(direction(s));
    double next = df != 0.0 ? s - f / df : 0.5 * (lo + hi);
    if (!((next > lo && next < hi) || (next < lo && next > hi))) next = 0.5 * (lo + hi);
    s = next;
  }
  return s;
}

}  // namespace trkaas
