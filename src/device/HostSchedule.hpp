#pragma once
/// How the host drivers run a kernel body over all indices of a step: in order, or, with a
/// seed, in a pseudo-random order, as a GPU may run them. A result that changes with the
/// order is a bug in the bodies.

#include <cstdint>
#include <numeric>
#include <random>
#include <vector>

namespace trkaas::device::detail {

class HostSchedule {
 public:
  /// seed 0: indices in order; any other seed: a fresh permutation for every step.
  explicit HostSchedule(std::uint64_t seed) : m_shuffle(seed != 0), m_random(seed) {}

  /// Calls body(i) for every i in [0, count).
  template <class Body>
  void forEach(std::int64_t count, const Body& body) {
    if (!m_shuffle) {
      for (std::int64_t i = 0; i < count; ++i) {
        body(i);
      }
      return;
    }
    std::vector<std::int64_t> order(static_cast<std::size_t>(count));
    std::iota(order.begin(), order.end(), 0);
    for (std::int64_t i = count - 1; i > 0; --i) {  // Fisher-Yates
      std::uniform_int_distribution<std::int64_t> pick(0, i);
      std::swap(order[static_cast<std::size_t>(i)],
                order[static_cast<std::size_t>(pick(m_random))]);
    }
    for (const std::int64_t i : order) {
      body(i);
    }
  }

 private:
  bool m_shuffle;
  std::mt19937_64 m_random;
};

}  // namespace trkaas::device::detail
