#pragma once
/// Physics performance of track finding against simulation truth.
///
/// Matching is double-majority: a track matches a particle when more than half of the
/// track's hits come from the particle and more than half of the particle's hits are in
/// the track. Noise hits (particle 0) never make a match. Efficiency: particles matched
/// by a track of at least minHits hits. Fake: a track (of at least minHits hits) that
/// matches no particle. Duplicate: a track whose majority particle (more than half of
/// the track's hits) is already the majority particle of a track with a lower label —
/// double-majority alone cannot see duplicates, as two tracks cannot both hold more
/// than half of one particle's hits.
///
/// Scope: the metrics look at the hits of a set of detector volumes (the ones the
/// pipeline processed) or at the whole event. Within a scope, a particle's hits, a
/// track's hits and the matching count only the scope's hits, so a perfect pixel track
/// of a particle that also crossed the strips is a match on the processed hits and not
/// on the whole event. Reports give both, labelled (PhysicsMetrics).

#include <cstdint>
#include <string>
#include <vector>

#include "trkaas/core/Event.hpp"
#include "trkaas/pipeline/GraphBuilder.hpp"

namespace trkaas {

struct TrackMetrics {
  /// Particles with >= minHits hits (in this event), and those of them with pT > ptMin.
  std::int64_t particles = 0, particlesHighPt = 0;
  /// Of those, the ones matched by at least one track.
  std::int64_t matched = 0, matchedHighPt = 0;
  /// Tracks with >= minHits hits; those matching no particle (fakes); those whose
  /// majority particle an earlier track already has (duplicates).
  std::int64_t tracks = 0, fakes = 0, duplicates = 0;
  /// TrackML score: the summed truth weight of the hits shared by each matched track and
  /// its particle (the official definition: 1.0 for a perfect result on the whole event,
  /// whose weights the generator and TrackML normalise to 1; no renormalisation).
  double score = 0.0;
  /// The scope's hits and their summed truth weight: score / weight is the fraction of
  /// the scope's weight the tracks found.
  std::int64_t hits = 0;
  double weight = 0.0;

  double efficiency() const { return particles ? double(matched) / double(particles) : 0.0; }
  double efficiencyHighPt() const {
    return particlesHighPt ? double(matchedHighPt) / double(particlesHighPt) : 0.0;
  }
  double fakeRate() const { return tracks ? double(fakes) / double(tracks) : 0.0; }
  double duplicateRate() const { return tracks ? double(duplicates) / double(tracks) : 0.0; }
  double scoreFraction() const { return weight > 0 ? score / weight : 0.0; }
  /// Sums counts and scores (the rates then cover all events added).
  TrackMetrics& operator+=(const TrackMetrics& o) {
    particles += o.particles, particlesHighPt += o.particlesHighPt;
    matched += o.matched, matchedHighPt += o.matchedHighPt;
    tracks += o.tracks, fakes += o.fakes, duplicates += o.duplicates, score += o.score;
    hits += o.hits, weight += o.weight;
    return *this;
  }
};

struct TrackMetricsConfig {
  double ptMin = 1.0;  ///< GeV, for the high-pT efficiency
  int minHits = 3;     ///< for particles and tracks to count
  /// The scope: hits of these volumes only; empty: the whole event.
  std::vector<std::int32_t> volumes;
  /// How the pipeline made the tracks (describeTracks), for the selection line; empty: not
  /// said. The metrics count every track given them of >= minHits hits.
  std::string tracks;
};

/// The metrics of one or more events on the hits the pipeline processed (the model's
/// volumes) and on the whole event. With no volume selection the two are the same.
struct PhysicsMetrics {
  TrackMetrics processed, event;
  PhysicsMetrics& operator+=(const PhysicsMetrics& o) {
    processed += o.processed, event += o.event;
    return *this;
  }
};

/// Metrics of `labels` (one per hit, -1 = no track) against the event's truth. The event
/// must have truth; particles' pT come from its particle table (particles missing from
/// it count only in the all-pT numbers). Throws trkaas::Error if truth is missing or the
/// label count differs from the hit count.
TrackMetrics trackMetrics(const Event& event, const std::vector<std::int64_t>& labels,
                          const TrackMetricsConfig& config = {});

/// Both scopes: `processed` with config's volumes, `event` on every hit.
PhysicsMetrics physicsMetrics(const Event& event, const std::vector<std::int64_t>& labels,
                              const TrackMetricsConfig& config);

/// "particles with >= 3 hits in the scope; a track (>= 3 hits) matches a particle when
/// more than half of ...": the selection and matching rule, in words, for reports.
std::string metricsSelection(const TrackMetricsConfig& config);

/// How well a stage's edges cover the truth. Efficiency: the fraction of true
/// consecutive-hit pairs (hits of one particle, ordered by distance from its production
/// vertex) present among the edges. Purity: the fraction of edges whose two hits come
/// from the same particle (not noise). The same definitions as tools/train.
struct EdgeMetrics {
  std::int64_t pairs = 0, pairsFound = 0, edges = 0, edgesTrue = 0;
  double efficiency() const { return pairs ? double(pairsFound) / double(pairs) : 0.0; }
  double purity() const { return edges ? double(edgesTrue) / double(edges) : 0.0; }
  EdgeMetrics& operator+=(const EdgeMetrics& o) {
    pairs += o.pairs, pairsFound += o.pairsFound, edges += o.edges, edgesTrue += o.edgesTrue;
    return *this;
  }
};

/// Edge metrics of `edges`, whose ends index the hits `rows` of the event (rows empty:
/// all hits, in order). Truth pairs are formed among those hits only. Throws trkaas::Error
/// without truth.
EdgeMetrics edgeMetrics(const Event& event, const std::vector<std::int64_t>& rows,
                        const EdgeList& edges);

}  // namespace trkaas
