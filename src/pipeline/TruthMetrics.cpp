#include "trkaas/pipeline/TruthMetrics.hpp"

#include <algorithm>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "trkaas/core/Error.hpp"

namespace trkaas {

TrackMetrics& TrackMetrics::operator+=(const TrackMetrics& o) {
  particles += o.particles;
  particlesHighPt += o.particlesHighPt;
  matched += o.matched;
  matchedHighPt += o.matchedHighPt;
  tracks += o.tracks;
  fakes += o.fakes;
  duplicates += o.duplicates;
  score += o.score;
  return *this;
}

TrackMetrics trackMetrics(const Event& event, const std::vector<std::int64_t>& labels,
                          const TrackMetricsConfig& config) {
  const std::size_t n = event.hits.size();
  if (!event.hasTruth()) {
    throw Error("event " + std::to_string(event.eventId) + ": track metrics need truth");
  }
  if (labels.size() != n) {
    throw Error("event " + std::to_string(event.eventId) + ": " + std::to_string(labels.size()) +
                " labels for " + std::to_string(n) + " hits");
  }
  const auto& pid = event.truth.particleId;
  const auto& weight = event.truth.weight;

  // Hits per particle and per track, and per (track, particle) pair with their weight.
  std::unordered_map<std::int64_t, std::int64_t> particleHits, trackHits;
  struct Shared {
    std::int64_t hits = 0;
    double weight = 0.0;
  };
  std::unordered_map<std::int64_t, std::unordered_map<std::int64_t, Shared>> shared;
  for (std::size_t i = 0; i < n; ++i) {
    if (pid[i] != 0) ++particleHits[pid[i]];
    if (labels[i] < 0) continue;
    ++trackHits[labels[i]];
    if (pid[i] != 0) {
      Shared& s = shared[labels[i]][pid[i]];
      ++s.hits;
      s.weight += weight[i];
    }
  }

  std::unordered_map<std::int64_t, float> pt;
  for (std::size_t p = 0; p < event.particles.size(); ++p) {
    pt[event.particles.particleId[p]] = particlePt(event.particles, p);
  }

  TrackMetrics m;
  // Tracks in label order, so that "duplicate" (a later track of a matched particle) is
  // deterministic.
  std::vector<std::int64_t> trackIds;
  trackIds.reserve(trackHits.size());
  for (const auto& [t, count] : trackHits) trackIds.push_back(t);
  std::sort(trackIds.begin(), trackIds.end());
  std::unordered_set<std::int64_t> matchedParticles, majorityParticles;
  for (std::int64_t t : trackIds) {
    const std::int64_t size = trackHits[t];
    // At most one particle can hold more than half of a track: its majority particle.
    std::int64_t majority = 0;
    bool matched = false;
    double sharedWeight = 0.0;
    for (const auto& [p, s] : shared[t]) {
      if (2 * s.hits > size) {
        majority = p;
        matched = 2 * s.hits > particleHits[p];
        sharedWeight = s.weight;
      }
    }
    if (matched) m.score += sharedWeight;
    if (size < config.minHits) continue;
    ++m.tracks;
    if (matched) {
      matchedParticles.insert(majority);
    } else {
      ++m.fakes;
    }
    if (majority != 0 && !majorityParticles.insert(majority).second) ++m.duplicates;
  }
  for (const auto& [p, hits] : particleHits) {
    if (hits < config.minHits) continue;
    const auto ptIt = pt.find(p);
    const bool highPt = ptIt != pt.end() && ptIt->second > config.ptMin;
    const bool matched = matchedParticles.count(p) != 0;
    ++m.particles;
    m.matched += matched;
    if (highPt) {
      ++m.particlesHighPt;
      m.matchedHighPt += matched;
    }
  }
  return m;
}

}  // namespace trkaas
