#include <vector>

#include "TrkaasCatch.hpp"
#include "trkaas/core/Error.hpp"
#include "trkaas/pipeline/TruthMetrics.hpp"

using namespace trkaas;

namespace {
/// Particles (id: pT, hits): 1: 2 GeV, hits 0-3; 2: 0.5 GeV, 4-6; 3: 5 GeV, 7-9;
/// 4: 3 GeV, hits 10-11 (too few to count); 5: 1.5 GeV, hits 12-18; noise: 19-21.
Event handMade() {
  Event e;
  e.eventId = 9;
  const std::vector<std::int64_t> pid = {1, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4,
                                         4, 5, 5, 5, 5, 5, 5, 5, 0, 0, 0};
  for (std::size_t i = 0; i < pid.size(); ++i) {
    e.hits.push_back(static_cast<std::int64_t>(100 + i), 1.f, 2.f, 3.f, 8, 2, 1);
    // Weight 0.01 * (i + 1): every hit has a different weight, so sums are checkable.
    e.truth.push_back(pid[i], 0, 0, 0, 0, 0, 0, pid[i] == 0 ? 0.f : 0.01f * (i + 1));
  }
  e.particles.push_back(1, 211, 0, 0, 0, 2.f, 0.f, 1.f, 1, 4);
  e.particles.push_back(2, 211, 0, 0, 0, 0.f, 0.5f, 1.f, 1, 3);
  e.particles.push_back(3, 211, 0, 0, 0, 3.f, 4.f, 1.f, 1, 3);
  e.particles.push_back(4, 211, 0, 0, 0, 3.f, 0.f, 1.f, 1, 2);
  e.particles.push_back(5, 211, 0, 0, 0, 0.f, 1.5f, 1.f, 1, 7);
  return e;
}
}  // namespace

TEST_CASE("track metrics on an event whose answer is worked out by hand", "[pipeline][metrics]") {
  const Event e = handMade();
  //                                    particle 1 | 2     | 3    | 4   | 5                 | noise
  const std::vector<std::int64_t> labels = {0,  0, 0, 1, 2, 2, 2, 2, 3, 3, 3,
                                            -1, 4, 4, 4, 4, 5, 5, 6, 1, 1, 6};
  // Track 0 {0,1,2}: particle 1, 3/3 of the track, 3/4 of the particle: match.
  // Track 1 {3,19,20}: particle 1 has 1 of 3: fake.
  // Track 2 {4,5,6,7}: particle 2, 3/4 and 3/3: match.
  // Track 3 {8,9,10}: particle 3, 2/3 and 2/3: match (particle 4's hit 10 is the minority).
  // Track 4 {12..15}: particle 5, 4/4 and 4/7: match.
  // Track 5 {16,17}: 2 hits, below minHits: not counted; majority particle 5, 2/7: no match.
  // Track 6 {18,21}: 2 hits: not counted.
  const TrackMetrics m = trackMetrics(e, labels);
  CHECK(m.particles == 4);        // 1, 2, 3, 5 (4 has only 2 hits)
  CHECK(m.particlesHighPt == 3);  // 1, 3, 5
  CHECK(m.matched == 4);
  CHECK(m.matchedHighPt == 3);
  CHECK(m.tracks == 5);  // tracks 0-4
  CHECK(m.fakes == 1);
  CHECK(m.duplicates == 0);
  CHECK(m.efficiency() == Approx(1.0));
  CHECK(m.fakeRate() == Approx(0.2));
  // Score: shared hits' weights of matched tracks: {0,1,2} + {4,5,6} + {8,9} + {12..15}.
  const double expected = 0.01 * ((1 + 2 + 3) + (5 + 6 + 7) + (9 + 10) + (13 + 14 + 15 + 16));
  CHECK(m.score == Approx(expected));

  // Track 5 enlarged to 3 hits {16,17,11}: particle 5 is its majority again -> duplicate.
  std::vector<std::int64_t> dup = labels;
  dup[11] = 5;
  const TrackMetrics d = trackMetrics(e, dup);
  CHECK(d.tracks == 6);
  CHECK(d.duplicates == 1);
  CHECK(d.fakes == 2);  // track 5 holds 2 of particle 5's 7 hits: no double majority
}

TEST_CASE("perfect and empty results", "[pipeline][metrics]") {
  const Event e = handMade();
  std::vector<std::int64_t> perfect(e.hits.size(), -1);
  for (std::size_t i = 0; i < perfect.size(); ++i) {
    if (e.truth.particleId[i] != 0) perfect[i] = e.truth.particleId[i];
  }
  const TrackMetrics m = trackMetrics(e, perfect);
  CHECK(m.efficiency() == Approx(1.0));
  CHECK(m.efficiencyHighPt() == Approx(1.0));
  CHECK(m.fakes == 0);
  double total = 0;
  for (float w : e.truth.weight) total += w;
  CHECK(m.score == Approx(total));
  const TrackMetrics none = trackMetrics(e, std::vector<std::int64_t>(e.hits.size(), -1));
  CHECK(none.matched == 0);
  CHECK(none.tracks == 0);
  CHECK(none.score == 0.0);
  CHECK(none.fakeRate() == 0.0);
}

TEST_CASE("the processed hits and the whole event are two scopes", "[pipeline][metrics]") {
  // Particle 5's last four hits (15-18) are in volume 12, a volume the pipeline does not
  // process; the pipeline leaves them without a track and finds particles 1, 2, 3 and the
  // three processed hits of particle 5 perfectly.
  Event e = handMade();
  for (std::size_t i = 15; i <= 18; ++i) e.hits.volumeId[i] = 12;
  std::vector<std::int64_t> labels(e.hits.size(), -1);
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (e.hits.volumeId[i] == 8 && e.truth.particleId[i] != 0) labels[i] = e.truth.particleId[i];
  }
  TrackMetricsConfig config;
  config.volumes = {8};
  const PhysicsMetrics m = physicsMetrics(e, labels, config);

  // Processed: particles 1, 2, 3 and 5 (3 processed hits) all found; no fakes.
  CHECK(m.processed.hits == 18);  // 22 hits, 4 in volume 12
  CHECK(m.processed.particles == 4);
  CHECK(m.processed.matched == 4);
  CHECK(m.processed.tracks == 4);  // particles 1, 2, 3, 5 (particle 4's 2 hits: below minHits)
  CHECK(m.processed.fakes == 0);
  double processedWeight = 0, allWeight = 0;
  for (std::size_t i = 0; i < e.hits.size(); ++i) {
    allWeight += e.truth.weight[i];
    if (e.hits.volumeId[i] == 8) processedWeight += e.truth.weight[i];
  }
  CHECK(m.processed.weight == Approx(processedWeight));
  // Every processed non-noise hit is in its particle's track, particle 4's two hits included
  // (its track has 2 of its 2 hits: a match for the score, below minHits for the rates).
  CHECK(m.processed.score == Approx(processedWeight));
  CHECK(m.processed.scoreFraction() == Approx(1.0));

  // Whole event: particle 5 has 7 hits, its track 3 of them: not a match, a fake track.
  CHECK(m.event.hits == 22);
  CHECK(m.event.particles == 4);
  CHECK(m.event.matched == 3);
  CHECK(m.event.fakes == 1);
  CHECK(m.event.weight == Approx(allWeight));
  CHECK(m.event.score == Approx(processedWeight - 0.01 * (13 + 14 + 15)));

  // Without a volume selection the two scopes are the same.
  const PhysicsMetrics all = physicsMetrics(e, labels, {});
  CHECK(all.processed.matched == all.event.matched);
  CHECK(all.processed.hits == 22);
  // Sums over events add both scopes.
  PhysicsMetrics sum = m;
  sum += m;
  CHECK(sum.processed.matched == 8);
  CHECK(sum.event.fakes == 2);
}

TEST_CASE("track metrics refuse what they cannot measure", "[pipeline][metrics]") {
  Event e = handMade();
  REQUIRE_THROWS_WITH(trackMetrics(e, {0, 1}), HasSubstring("2 labels for 22 hits"));
  e.truth.clear();
  REQUIRE_THROWS_WITH(trackMetrics(e, std::vector<std::int64_t>(22, -1)),
                      HasSubstring("need truth"));
}

TEST_CASE("edge metrics against consecutive truth pairs", "[pipeline][metrics]") {
  // Particle 1: hits 0, 2, 1 in order of distance from its vertex at the origin; particle
  // 2 (vertex at z = 100): hits 3, 4; hit 5 is noise.
  Event e;
  e.eventId = 3;
  const float xs[] = {10.f, 30.f, 20.f, 10.f, 20.f, 15.f};
  const float zs[] = {0.f, 0.f, 0.f, 100.f, 100.f, 0.f};
  const std::int64_t pid[] = {1, 1, 1, 2, 2, 0};
  for (int i = 0; i < 6; ++i) {
    e.hits.push_back(i + 1, xs[i], 0.f, zs[i], 8, 2, i);
    e.truth.push_back(pid[i], 0, 0, 0, 0, 0, 0, 0.1f);
  }
  e.particles.push_back(1, 211, 0, 0, 0, 1, 0, 0, 1, 3);
  e.particles.push_back(2, 211, 0, 0, 100, 1, 0, 0, 1, 2);
  // True pairs: (0,2), (1,2), (3,4). Edges: (0,2) true pair, (0,1) same particle but not
  // consecutive, (2,5) noise, (3,4) true pair, (0,2) again reversed.
  EdgeList edges;
  edges.src = {0, 0, 2, 3, 2};
  edges.dst = {2, 1, 5, 4, 0};
  const EdgeMetrics m = edgeMetrics(e, {}, edges);
  CHECK(m.pairs == 3);
  CHECK(m.pairsFound == 2);
  CHECK(m.edges == 5);
  CHECK(m.edgesTrue == 4);  // (0,2), (0,1), (3,4) and (2,0) again: all but (2,5)
  CHECK(m.efficiency() == Approx(2.0 / 3.0));
  CHECK(m.purity() == Approx(0.8));
  // Restricted to hits {3, 4, 5}: local indices 0, 1, 2; one true pair (0, 1).
  EdgeList local;
  local.src = {0};
  local.dst = {1};
  const EdgeMetrics r = edgeMetrics(e, {3, 4, 5}, local);
  CHECK(r.pairs == 1);
  CHECK(r.pairsFound == 1);
  CHECK(r.edgesTrue == 1);
}
