#pragma once
// Internal: the simulation's random numbers. A fixed algorithm (xoshiro256**, seeded
// through splitmix64) with our own distribution code, so that the same seed gives
// bit-identical events with any standard library. std:: distributions are not used
// because their algorithms differ between implementations.

#include <cmath>
#include <cstdint>

namespace trkaas {

/// Random stream for one (seed, stream) pair; streams are statistically independent.
class Random {
 public:
  /// One step of splitmix64: a good 64-bit mixing function.
  static std::uint64_t splitmix64(std::uint64_t& state) {
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }

  /// Mixes two numbers into one seed (order matters).
  static std::uint64_t combine(std::uint64_t a, std::uint64_t b) {
    std::uint64_t s = a;
    const std::uint64_t ha = splitmix64(s);
    std::uint64_t t = b ^ ha;
    return splitmix64(t);
  }

  explicit Random(std::uint64_t seed) {
    std::uint64_t s = seed;
    for (auto& word : m_s) word = splitmix64(s);
  }

  /// Next 64 random bits.
  std::uint64_t bits() {
    const std::uint64_t result = rotl(m_s[1] * 5, 7) * 9;
    const std::uint64_t t = m_s[1] << 17;
    m_s[2] ^= m_s[0];
    m_s[3] ^= m_s[1];
    m_s[1] ^= m_s[2];
    m_s[0] ^= m_s[3];
    m_s[2] ^= t;
    m_s[3] = rotl(m_s[3], 45);
    return result;
  }

  /// Uniform in [0, 1).
  double uniform() { return static_cast<double>(bits() >> 11) * 0x1.0p-53; }
  /// Uniform in (0, 1].
  double uniformPositive() { return static_cast<double>((bits() >> 11) + 1) * 0x1.0p-53; }
  /// Uniform in [lo, hi).
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  /// Uniform integer in [0, n), n > 0.
  std::uint64_t below(std::uint64_t n) {
    return static_cast<std::uint64_t>(uniform() * static_cast<double>(n)) % n;
  }

  /// Standard normal (Box-Muller; the second value is kept for the next call).
  double normal() {
    if (m_hasSpare) {
      m_hasSpare = false;
      return m_spare;
    }
    const double r = std::sqrt(-2.0 * std::log(uniformPositive()));
    const double phi = 2.0 * M_PI * uniform();
    m_spare = r * std::sin(phi);
    m_hasSpare = true;
    return r * std::cos(phi);
  }

  /// Exponential with the given mean.
  double exponential(double mean) { return -mean * std::log(uniformPositive()); }

  /// Gamma distribution of this shape (> 0) and scale 1: Marsaglia and Tsang's method
  /// (ACM Trans. Math. Softw. 26 (2000) 363), with Gamma(a) = Gamma(a + 1) U^(1/a) below 1.
  double gamma(double shape) {
    if (shape < 1.0) {
      const double u = uniformPositive();
      return gamma(shape + 1.0) * std::pow(u, 1.0 / shape);
    }
    const double d = shape - 1.0 / 3.0;
    const double c = 1.0 / std::sqrt(9.0 * d);
    for (;;) {
      double x = 0.0;
      double v = 0.0;
      do {
        x = normal();
        v = 1.0 + c * x;
      } while (v <= 0.0);
      v = v * v * v;
      const double u = uniformPositive();
      if (u < 1.0 - 0.0331 * x * x * x * x) return d * v;
      if (std::log(u) < 0.5 * x * x + d * (1.0 - v + std::log(v))) return d * v;
    }
  }

  /// Poisson with the given mean (>= 0): exact, as a sum of small-mean Poisson
  /// numbers drawn by Knuth's multiplication method.
  std::int64_t poisson(double mean) {
    constexpr double kChunk = 30.0;
    std::int64_t n = 0;
    while (mean > 0.0) {
      const double m = mean > kChunk ? kChunk : mean;
      mean -= m;
      const double limit = std::exp(-m);
      double prod = uniformPositive();
      while (prod > limit) {
        ++n;
        prod *= uniformPositive();
      }
    }
    return n;
  }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

  std::uint64_t m_s[4];
  double m_spare = 0.0;
  bool m_hasSpare = false;
};

}  // namespace trkaas
