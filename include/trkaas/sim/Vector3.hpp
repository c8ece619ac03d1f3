#pragma once
/// A small 3-vector of doubles for the simulation's geometry and kinematics.

#include <cmath>

namespace trkaas {

/// Cartesian 3-vector (mm for positions, GeV for momenta, unitless for directions).
struct Vector3 {
  double x = 0.0;
  double y = 0.0;
  double z = 0.0;

  constexpr Vector3() = default;
  constexpr Vector3(double xx, double yy, double zz) : x(xx), y(yy), z(zz) {}

  constexpr Vector3 operator+(const Vector3& o) const { return {x + o.x, y + o.y, z + o.z}; }
  constexpr Vector3 operator-(const Vector3& o) const { return {x - o.x, y - o.y, z - o.z}; }
  constexpr Vector3 operator*(double s) const { return {x * s, y * s, z * s}; }
  constexpr Vector3 operator-() const { return {-x, -y, -z}; }
  Vector3& operator+=(const Vector3& o) {
    x += o.x;
    y += o.y;
    z += o.z;
    return *this;
  }
  constexpr bool operator==(const Vector3& o) const { return x == o.x && y == o.y && z == o.z; }

  /// Scalar product.
  constexpr double dot(const Vector3& o) const { return x * o.x + y * o.y + z * o.z; }
  /// Vector product.
  constexpr Vector3 cross(const Vector3& o) const {
    return {y * o.z - z * o.y, z * o.x - x * o.z, x * o.y - y * o.x};
  }
  /// Euclidean length.
  double norm() const { return std::sqrt(x * x + y * y + z * z); }
  /// Length in the transverse (x, y) plane.
  double perp() const { return std::hypot(x, y); }
  /// This vector scaled to length 1 (unchanged if it has length 0).
  Vector3 unit() const {
    const double n = norm();
    return n > 0.0 ? Vector3{x / n, y / n, z / n} : *this;
  }
};

inline constexpr Vector3 operator*(double s, const Vector3& v) { return v * s; }

}  // namespace trkaas
