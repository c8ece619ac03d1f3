#include <cmath>

#include "TrkaasCatch.hpp"
#include "trkaas/core/Error.hpp"
#include "trkaas/sim/Helix.hpp"

using trkaas::Helix;
using trkaas::Vector3;

namespace {

/// Radius of the circle through three points in the transverse plane.
double circumradius(const Vector3& a, const Vector3& b, const Vector3& c) {
  const double ab = std::hypot(a.x - b.x, a.y - b.y);
  const double bc = std::hypot(b.x - c.x, b.y - c.y);
  const double ca = std::hypot(c.x - a.x, c.y - a.y);
  const double area2 = std::abs((b.x - a.x) * (c.y - a.y) - (c.x - a.x) * (b.y - a.y));
  return ab * bc * ca / (2.0 * area2);
}

/// R[mm] = pT[GeV] / (0.3 B[T]) * 1000, with the exact speed of light.
double expectedRadiusMm(double pt, double b) { return pt / (0.299792458 * b) * 1000.0; }

}  // namespace

TEST_CASE("Helix: very high pT is a straight line", "[sim][helix]") {
  const Vector3 origin{1.0, -2.0, 3.0};
  const Vector3 p{3e5, 4e5, 1e5};  // |pT| = 5e5 GeV: sagitta over 1 m is ~1e-4 mm
  const Helix helix(origin, p, +1.0, 2.0);
  const Vector3 dir = p * (1.0 / p.norm());
  for (double s : {0.0, 10.0, 250.0, 1000.0}) {
    const Vector3 x = helix.position(s);
    const Vector3 expected = origin + dir * s;
    CHECK((x - expected).norm() < 1e-3);
    CHECK((helix.direction(s) - dir).norm() < 1e-5);
  }
  SECTION("neutral particles and zero field are exactly straight") {
    const Helix neutral(origin, {1.0, 0.0, 0.0}, 0.0, 2.0);
    CHECK(neutral.position(500.0).x == Approx(501.0));
    CHECK(neutral.position(500.0).y == Approx(-2.0));
    const Helix noField(origin, {0.0, 1.0, 1.0}, 1.0, 0.0);
    CHECK(noField.position(std::sqrt(2.0)).y == Approx(-1.0));
    CHECK(noField.position(std::sqrt(2.0)).z == Approx(4.0));
  }
}

TEST_CASE("Helix: radius follows R = pT / (0.3 B)", "[sim][helix]") {
  for (double pt : {0.1, 0.5, 1.0, 10.0}) {
    for (double b : {0.5, 2.0, 4.0}) {
      const double phi = 0.7;
      const Helix helix({0.0, 0.0, 0.0}, {pt * std::cos(phi), pt * std::sin(phi), 0.8 * pt}, -1.0,
                        b);
      const double r = expectedRadiusMm(pt, b);
      CHECK(helix.radius() == Approx(r).epsilon(1e-9));
      // Measured from the trajectory itself: circle through three positions.
      const double turn = helix.turnLength();
      const double rFit = circumradius(helix.position(0.0), helix.position(0.1 * turn),
                                       helix.position(0.37 * turn));
      CHECK(rFit == Approx(r).epsilon(1e-7));
      CHECK(helix.pT() == Approx(pt));
    }
  }
}

TEST_CASE("Helix: position and direction after a known path length", "[sim][helix]") {
  // Positive charge at the origin moving along +x in B = 2 T (+z): it turns clockwise,
  // so after a quarter turn it is at (R, -R) moving along -y.
  const double pt = 1.0;
  const double pz = 0.5;
  const double b = 2.0;
  const Helix helix({0.0, 0.0, 0.0}, {pt, 0.0, pz}, +1.0, b);
  const double r = expectedRadiusMm(pt, b);
  const double cosLambda = pt / std::hypot(pt, pz);
  const double sQuarter = 0.5 * M_PI * r / cosLambda;
  const Vector3 x = helix.position(sQuarter);
  CHECK(x.x == Approx(r).epsilon(1e-9));
  CHECK(x.y == Approx(-r).epsilon(1e-9));
  CHECK(x.z == Approx(0.5 * M_PI * r * pz / pt).epsilon(1e-9));
  const Vector3 d = helix.direction(sQuarter);
  CHECK(d.x == Approx(0.0).margin(1e-12));
  CHECK(d.y == Approx(-cosLambda).epsilon(1e-12));
  CHECK(d.z == Approx(pz / std::hypot(pt, pz)).epsilon(1e-12));
  // A full turn comes back above the start.
  const Vector3 full = helix.position(helix.turnLength());
  CHECK(std::hypot(full.x, full.y) < 1e-6);
  CHECK(helix.turnLength() == Approx(2.0 * M_PI * r / cosLambda));
  // The momentum keeps its magnitude and its z component.
  const Vector3 mom = helix.momentum(1234.0);
  CHECK(mom.norm() == Approx(std::hypot(pt, pz)));
  CHECK(mom.z == Approx(pz));
}

TEST_CASE("Helix: the charge sign sets the bending direction", "[sim][helix]") {
  const double s = 200.0;
  const Helix plus({0.0, 0.0, 0.0}, {1.0, 0.0, 0.0}, +1.0, 2.0);
  const Helix minus({0.0, 0.0, 0.0}, {1.0, 0.0, 0.0}, -1.0, 2.0);
  CHECK(plus.position(s).y < -1.0);  // clockwise seen from +z
  CHECK(minus.position(s).y > 1.0);  // counter-clockwise
  CHECK(plus.position(s).y == Approx(-minus.position(s).y));
  CHECK(plus.turnRate() < 0.0);
  // Reversing the field reverses the bending.
  const Helix plusReversed({0.0, 0.0, 0.0}, {1.0, 0.0, 0.0}, +1.0, -2.0);
  CHECK(plusReversed.position(s).y == Approx(minus.position(s).y));
}

TEST_CASE("Helix: plane crossing matches the analytic circle", "[sim][helix]") {
  const double pt = 0.8;
  const double pz = -0.3;
  const double b = 2.0;
  const Helix helix({0.0, 0.0, 10.0}, {pt, 0.0, pz}, +1.0, b);
  const double r = expectedRadiusMm(pt, b);
  const double plane = 500.0;  // x = 500
  const Vector3 normal{1.0, 0.0, 0.0};
  const Vector3 point{plane, 0.0, 0.0};
  const double s0 = 400.0;
  const double s1 = 700.0;
  const double f0 = normal.dot(helix.position(s0) - point);
  const double f1 = normal.dot(helix.position(s1) - point);
  REQUIRE(f0 < 0.0);
  REQUIRE(f1 > 0.0);
  const double s = helix.planeCrossing(normal, point, s0, s1, f0, f1);
  // Circle centred at (0, -R): x = R sin(theta), theta = transverse arc / R.
  const double theta = std::asin(plane / r);
  const double cosLambda = pt / std::hypot(pt, pz);
  CHECK(s == Approx(theta * r / cosLambda).epsilon(1e-9));
  CHECK(helix.position(s).x == Approx(plane).epsilon(1e-10));
  CHECK(helix.position(s).y == Approx(-r + r * std::cos(theta)).epsilon(1e-9));
}

TEST_CASE("Helix: zero momentum is rejected", "[sim][helix]") {
  REQUIRE_THROWS_AS(Helix({0, 0, 0}, {0, 0, 0}, 1.0, 2.0), trkaas::Error);
}
