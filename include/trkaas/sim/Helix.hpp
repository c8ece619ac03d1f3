#pragma once
/// A charged particle's trajectory in a uniform magnetic field along z: a helix.

#include "trkaas/sim/Vector3.hpp"

namespace trkaas {

/// Helix through a reference point, parametrised by the path length s (mm) along it.
///
/// Units: mm, GeV, tesla, elementary charge. The field points along +z, so a positive
/// particle turns clockwise seen from +z (its azimuth decreases). With zero charge or
/// zero field the helix is a straight line. The transverse radius is
/// R[m] = pT[GeV] / (0.299792458 * |q| * B[T]).
class Helix {
 public:
  /// c in GeV / (T mm e): p[GeV] = kMomentumPerTeslaMm * B[T] * R[mm] for |q| = 1.
  static constexpr double kMomentumPerTeslaMm = 0.299792458e-3;

  /// Helix through `position` (mm) with `momentum` (GeV, non-zero) for charge `charge` (e)
  /// in the field `bField` (T, along z).
  Helix(const Vector3& position, const Vector3& momentum, double charge, double bField);

  /// Position after path length s (mm; may be negative).
  Vector3 position(double s) const;
  /// Unit direction after path length s.
  Vector3 direction(double s) const;
  /// Momentum after path length s (GeV; same magnitude everywhere).
  Vector3 momentum(double s) const { return direction(s) * m_p; }

  /// Reference point (s = 0).
  const Vector3& origin() const { return m_origin; }
  /// Unit direction at s = 0.
  const Vector3& startDirection() const { return m_dir; }
  double charge() const { return m_charge; }
  double bField() const { return m_bField; }
  /// Momentum magnitude, GeV.
  double p() const { return m_p; }
  /// Transverse momentum, GeV.
  double pT() const { return m_p * m_dir.perp(); }
  /// Signed change of the azimuth of the direction per unit path length (1/mm); 0 when
  /// straight, negative for positive charge in a positive field.
  double turnRate() const { return m_k; }
  /// Transverse radius of curvature in mm (infinity when straight).
  double radius() const;
  /// Centre of the transverse circle (x, y; z of the origin). Only meaningful if curved.
  Vector3 centre() const;
  /// Path length of one full turn (infinity when straight).
  double turnLength() const;

  /// Finds where f(s) = normal . (position(s) - point) changes sign in [s0, s1], given
  /// f(s0) = f0 and f(s1) = f1 of opposite signs (or one of them zero). Returns the path
  /// length of the crossing to within `tolerance` mm of the plane.
  double planeCrossing(const Vector3& normal, const Vector3& point, double s0, double s1, double f0,
                       double f1, double tolerance = 1e-7) const;

 private:
  Vector3 m_origin;
  Vector3 m_dir;
  double m_p = 0;
  double m_charge = 0;
  double m_bField = 0;
  double m_k = 0;
};

}  // namespace trkaas
