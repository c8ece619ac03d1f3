#include "trkaas/sim/Decay.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "Random.hpp"

namespace trkaas {

namespace {

constexpr std::int32_t kPion = 211;
constexpr std::int32_t kKaon = 321;
constexpr std::int32_t kMuon = 13;

/// PDG id of a muon of this charge (leptons: positive id = negative charge).
std::int32_t muonId(int charge) { return charge > 0 ? -kMuon : kMuon; }

}  // namespace

double Decay::properLength(std::int32_t pdg) {
  switch (std::abs(pdg)) {
    case kPion:
      return kPionCTau;
    case kKaon:
      return kKaonCTau;
    default:
      return 0.0;
  }
}

double Decay::meanLength(std::int32_t pdg, double mass, double p) {
  return p / mass * properLength(pdg);
}

double Decay::twoBodyMomentum(double m, double m1, double m2) {
  const double plus = m * m - (m1 + m2) * (m1 + m2);
  const double minus = m * m - (m1 - m2) * (m1 - m2);
  return std::sqrt(std::max(0.0, plus * minus)) / (2.0 * m);
}

Vector3 Decay::twoBody(const Vector3& parent, double m, double m1, double m2, Random& rng) {
  const double pStar = twoBodyMomentum(m, m1, m2);
  const double eStar = std::sqrt(pStar * pStar + m1 * m1);
  const double cosTheta = rng.uniform(-1.0, 1.0);
  const double sinTheta = std::sqrt(std::max(0.0, 1.0 - cosTheta * cosTheta));
  const double phi = rng.uniform(0.0, 2.0 * M_PI);
  const double p = parent.norm();
  const double gamma = std::sqrt(p * p + m * m) / m;
  const double betaGamma = p / m;
  const Vector3 dir = parent.unit();
  const Vector3 axis = std::abs(dir.z) < 0.9 ? Vector3{0, 0, 1} : Vector3{1, 0, 0};
  const Vector3 e1 = dir.cross(axis).unit();
  const Vector3 e2 = dir.cross(e1);
  // Boost along the parent's direction: the longitudinal part mixes with the energy.
  const double along = gamma * pStar * cosTheta + betaGamma * eStar;
  const double across = pStar * sinTheta;
  return dir * along + e1 * (across * std::cos(phi)) + e2 * (across * std::sin(phi));
}

bool Decay::chargedDaughter(std::int32_t pdg, int charge, const Vector3& parent, Random& rng,
                            Daughter& out) {
  const int species = std::abs(pdg);
  if (species == kPion) {
    out = {muonId(charge), kMuonMass, charge, twoBody(parent, kPionMass, kMuonMass, 0.0, rng)};
    return true;
  }
  if (species != kKaon) return false;
  const double u = rng.uniform();
  if (u < kKaonToMuNu) {
    out = {muonId(charge), kMuonMass, charge, twoBody(parent, kKaonMass, kMuonMass, 0.0, rng)};
    return true;
  }
  if (u < kKaonToMuNu + kKaonToPiPi0) {
    out = {charge > 0 ? kPion : -kPion, kPionMass, charge,
           twoBody(parent, kKaonMass, kPionMass, kPi0Mass, rng)};
    return true;
  }
  return false;
}

}  // namespace trkaas
