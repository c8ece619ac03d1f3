#pragma once
// Helpers shared by the io tests: synthetic events with random (but seeded) values and
// (see RequireSameEvent.hpp for the Catch2 comparison of every table).
#include <cstdint>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <unordered_set>

#include "trkaas/core/Event.hpp"

namespace trkaas::test {

inline std::string tmpPath(const std::string& name) {
  return std::string(TRKAAS_TEST_TMP) + "/" + name;
}

inline std::string readBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

/// An event with `nHits` hits whose ids are unique, unsorted and far from contiguous,
/// and optional truth, cells (1-3 per hit) and particles, all filled with random values.
inline Event makeEvent(std::int64_t eventId, std::size_t nHits, std::uint32_t seed, bool truth,
                       bool cells, bool particles) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> coord(-1000.f, 1000.f);
  std::uniform_int_distribution<std::int32_t> small(0, 3000);
  std::uniform_int_distribution<std::int64_t> bigId(1, std::int64_t(1) << 60);
  Event e;
  e.eventId = eventId;
  std::unordered_set<std::int64_t> used;
  const std::size_t nParticles = nHits / 10 + 1;
  std::vector<std::int64_t> particleIds;
  for (std::size_t p = 0; p < nParticles; ++p) particleIds.push_back(bigId(rng));
  for (std::size_t i = 0; i < nHits; ++i) {
    std::int64_t id = bigId(rng);
    while (!used.insert(id).second) id = bigId(rng);
    e.hits.push_back(id, coord(rng), coord(rng), coord(rng), small(rng), small(rng), small(rng));
    if (truth) {
      e.truth.push_back(particleIds[i % nParticles], coord(rng), coord(rng), coord(rng),
                        coord(rng) / 100, coord(rng) / 100, coord(rng) / 100, coord(rng) / 1e6f);
    }
    if (cells) {
      const int n = 1 + static_cast<int>(i % 3);
      for (int c = 0; c < n; ++c) e.cells.push_back(id, small(rng), small(rng), coord(rng));
    }
  }
  if (particles) {
    for (std::size_t p = 0; p < nParticles; ++p) {
      e.particles.push_back(particleIds[p], small(rng) - 1500, coord(rng), coord(rng), coord(rng),
                            coord(rng) / 100, coord(rng) / 100, coord(rng) / 100, (p % 2) ? 1 : -1,
                            small(rng));
    }
  }
  return e;
}

}  // namespace trkaas::test
