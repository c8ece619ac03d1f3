#include "trkaas/pipeline/TruthMetrics.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "trkaas/core/Error.hpp"

namespace trkaas {

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
  const auto& volumes = config.volumes;
  const auto inScope = [&](std::size_t i) {
    return volumes.empty() ||
           std::find(volumes.begin(), volumes.end(), event.hits.volumeId[i]) != volumes.end();
  };
  TrackMetrics m;

  // Hits per particle and per track, and per (track, particle) pair with their weight.
  std::unordered_map<std::int64_t, std::int64_t> particleHits, trackHits;
  struct Shared {
    std::int64_t hits = 0;
    double weight = 0.0;
  };
  std::unordered_map<std::int64_t, std::unordered_map<std::int64_t, Shared>> shared;
  for (std::size_t i = 0; i < n; ++i) {
    if (!inScope(i)) continue;
    ++m.hits;
    m.weight += weight[i];
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

PhysicsMetrics physicsMetrics(const Event& event, const std::vector<std::int64_t>& labels,
                              const TrackMetricsConfig& config) {
  PhysicsMetrics m;
  TrackMetricsConfig whole = config;
  whole.volumes.clear();
  m.event = trackMetrics(event, labels, whole);
  m.processed = config.volumes.empty() ? m.event : trackMetrics(event, labels, config);
  return m;
}

std::string metricsSelection(const TrackMetricsConfig& c) {
  // (Not fmt: in this torch-linked library <fmt/format.h> would be torch's copy.)
  std::ostringstream pt;
  pt << c.ptMin;
  const std::string h = std::to_string(c.minHits);
  return "particles with >= " + h + " hits in the scope (efficiency also for pT > " + pt.str() +
         " GeV); tracks of >= " + h +
         " hits; double majority: a track matches a particle when more than half of the "
         "track's hits are the particle's and more than half of the particle's hits in the "
         "scope are in the track; fake: a track matching no particle; TrackML score: truth "
         "weight of the matched hits (official, whole-event weights summing to 1)" +
         (c.tracks.empty() ? std::string() : "; the pipeline's tracks: " + c.tracks);
}

EdgeMetrics edgeMetrics(const Event& event, const std::vector<std::int64_t>& rows,
                        const EdgeList& edges) {
  if (!event.hasTruth()) {
    throw Error("event " + std::to_string(event.eventId) + ": edge metrics need truth");
  }
  const std::size_t n = rows.empty() ? event.hits.size() : rows.size();
  const auto row = [&](std::size_t k) {
    return rows.empty() ? k : static_cast<std::size_t>(rows[k]);
  };
  std::unordered_map<std::int64_t, std::size_t> particleRow;
  for (std::size_t p = 0; p < event.particles.size(); ++p) {
    particleRow.emplace(event.particles.particleId[p], p);
  }
  // (particle, distance from its vertex, local hit index) for every non-noise hit.
  struct Entry {
    std::int64_t particle;
    double distance;
    std::int64_t hit;
  };
  std::vector<Entry> entries;
  for (std::size_t k = 0; k < n; ++k) {
    const std::size_t i = row(k);
    const std::int64_t pid = event.truth.particleId[i];
    if (pid == 0) continue;
    double vx = 0, vy = 0, vz = 0;
    const auto it = particleRow.find(pid);
    if (it != particleRow.end()) {
      vx = event.particles.vx[it->second];
      vy = event.particles.vy[it->second];
      vz = event.particles.vz[it->second];
    }
    const double dx = event.hits.x[i] - vx, dy = event.hits.y[i] - vy, dz = event.hits.z[i] - vz;
    entries.push_back({pid, std::sqrt(dx * dx + dy * dy + dz * dz), static_cast<std::int64_t>(k)});
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.particle != b.particle ? a.particle < b.particle : a.distance < b.distance;
  });
  const auto key = [n](std::int64_t a, std::int64_t b) {
    return std::min(a, b) * static_cast<std::int64_t>(n) + std::max(a, b);
  };
  std::unordered_set<std::int64_t> truthPairs;
  for (std::size_t e = 1; e < entries.size(); ++e) {
    if (entries[e].particle == entries[e - 1].particle) {
      truthPairs.insert(key(entries[e - 1].hit, entries[e].hit));
    }
  }
  EdgeMetrics m;
  m.pairs = static_cast<std::int64_t>(truthPairs.size());
  m.edges = static_cast<std::int64_t>(edges.size());
  std::unordered_set<std::int64_t> found;
  for (std::size_t e = 0; e < edges.size(); ++e) {
    const std::int64_t a = edges.src[e], b = edges.dst[e];
    const std::int64_t pa = event.truth.particleId[row(static_cast<std::size_t>(a))];
    const std::int64_t pb = event.truth.particleId[row(static_cast<std::size_t>(b))];
    if (pa != 0 && pa == pb) ++m.edgesTrue;
    const std::int64_t k = key(a, b);
    if (truthPairs.count(k) != 0) found.insert(k);
  }
  m.pairsFound = static_cast<std::int64_t>(found.size());
  return m;
}

}  // namespace trkaas
