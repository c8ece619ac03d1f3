#pragma once
/// The event model: structure-of-arrays tables for hits, per-hit truth, cells,
/// particles and track labels.
///
/// Every per-hit table is aligned with `Hits`: element i of `HitTruth` and of
/// `Tracks::label` belongs to hit i. Hit ids are opaque 64-bit numbers; nothing may
/// assume that they are contiguous, sorted or start at any value.
/// Optional tables are empty when absent (`Event::hasTruth()` etc.).

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace trkaas {

/// Measured space points, one entry per hit. Coordinates in mm, global frame.
struct Hits {
  std::vector<std::int64_t> hitId;
  std::vector<float> x, y, z;
  std::vector<std::int32_t> volumeId, layerId, moduleId;

  std::size_t size() const { return hitId.size(); }
  bool empty() const { return hitId.empty(); }
  void reserve(std::size_t n);
  void clear();
  void push_back(std::int64_t id, float xx, float yy, float zz, std::int32_t volume,
                 std::int32_t layer, std::int32_t module);
  /// Throws trkaas::Error if the column lengths differ.
  void checkSizes() const;
};

/// Simulation truth per hit (TrackML `truth.csv`): the particle that made it
/// (0 = noise), its true position and momentum at the hit, and the hit's weight
/// in the TrackML score.
struct HitTruth {
  std::vector<std::int64_t> particleId;
  std::vector<float> tx, ty, tz;     ///< true position, mm
  std::vector<float> tpx, tpy, tpz;  ///< true momentum, GeV
  std::vector<float> weight;

  std::size_t size() const { return particleId.size(); }
  bool empty() const { return particleId.empty(); }
  void reserve(std::size_t n);
  void clear();
  void push_back(std::int64_t pid, float x, float y, float z, float px, float py, float pz,
                 float w);
};

/// Pixel/strip cells that make up the hits (TrackML `cells.csv`): several cells per
/// hit, each with two channel numbers and a deposited value.
struct Cells {
  std::vector<std::int64_t> hitId;
  std::vector<std::int32_t> ch0, ch1;
  std::vector<float> value;

  std::size_t size() const { return hitId.size(); }
  bool empty() const { return hitId.empty(); }
  void clear();
  void push_back(std::int64_t hit, std::int32_t c0, std::int32_t c1, float v);
};

/// Generated particles (TrackML `particles.csv` plus the PDG type).
struct Particles {
  std::vector<std::int64_t> particleId;
  std::vector<std::int32_t> pdgId;   ///< 0 when unknown (TrackML files do not carry it)
  std::vector<float> vx, vy, vz;     ///< production vertex, mm
  std::vector<float> px, py, pz;     ///< momentum at the vertex, GeV
  std::vector<std::int32_t> charge;  ///< in units of e
  std::vector<std::int32_t> nHits;

  std::size_t size() const { return particleId.size(); }
  bool empty() const { return particleId.empty(); }
  void clear();
  void push_back(std::int64_t id, std::int32_t pdg, float x, float y, float z, float mx, float my,
                 float mz, std::int32_t q, std::int32_t n);
};

/// One collision event.
struct Event {
  std::int64_t eventId = 0;
  Hits hits;
  HitTruth truth;       ///< empty, or aligned with hits
  Cells cells;          ///< optional
  Particles particles;  ///< optional

  bool hasTruth() const { return !truth.empty(); }
  bool hasCells() const { return !cells.empty(); }
  bool hasParticles() const { return !particles.empty(); }
};

/// Track finding result: one label per hit (aligned with `Hits`), -1 for none.
struct Tracks {
  static constexpr std::int64_t kNoTrack = -1;
  std::int64_t eventId = 0;
  std::vector<std::int64_t> hitId;
  std::vector<std::int64_t> label;

  std::size_t size() const { return hitId.size(); }
};

/// Checks an event for problems that would make downstream results meaningless:
/// no hits, column lengths that differ, non-finite coordinates, duplicate hit ids,
/// truth or cells that do not match the hits. Throws trkaas::InputError naming
/// `source` (usually the file) and the event id.
void validateEvent(const Event& event, const std::string& source);

/// Checks a track-finding result: at least one hit, as many labels as hit ids, hit ids
/// unique, labels >= 0 or Tracks::kNoTrack. Throws trkaas::InputError naming `source` and the
/// event.
void validateTracks(const Tracks& tracks, const std::string& source);

/// Transverse momentum of particle i, GeV.
float particlePt(const Particles& particles, std::size_t i);

}  // namespace trkaas
