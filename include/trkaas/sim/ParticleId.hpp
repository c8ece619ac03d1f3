#pragma once
/// The generator's particle ids: which vertex a particle comes from and, for secondaries,
/// which primary made them and how. Primaries keep the ids the generator always wrote.

#include <cstdint>

namespace trkaas {

/// Bit layout of a particle id (always positive; 0 is noise):
///   bits  0-23  number of the primary within its vertex (from 1)
///   bits 24-40  vertex number (from 1; pile-up <= 100000 plus the hard scatter)
///   bits 41-52  number of the secondary within its primary (from 1; 0 = primary)
///   bits 53-56  process that made the secondary (Process; 0 = primary)
/// So `id & parentMask` is the primary a secondary comes from. (TrackML's own layout,
/// trackml-library's decode_particle_id, puts the vertex in the top bits; the generator
/// keeps its older layout so that the default events stay what they were.)
struct ParticleId {
  enum class Process : std::int64_t {
    kPrimary = 0,
    kDeltaElectron = 1,
    kHadronic = 2,
    kDecay = 3,  ///< the charged daughter of a decay in flight
  };

  static constexpr int kVertexShift = 24;
  static constexpr int kSecondaryShift = 41;
  static constexpr int kProcessShift = 53;
  static constexpr std::int64_t kMaxSecondaries = (std::int64_t{1} << 12) - 1;
  static constexpr std::int64_t kParentMask = (std::int64_t{1} << kSecondaryShift) - 1;

  static constexpr std::int64_t primary(std::int64_t vertex, std::int64_t number) {
    return (vertex << kVertexShift) | number;
  }
  /// The `number`-th secondary (1..kMaxSecondaries) of primary `parent`.
  static constexpr std::int64_t secondary(std::int64_t parent, Process process,
                                          std::int64_t number) {
    return (parent & kParentMask) | (number << kSecondaryShift) |
           (static_cast<std::int64_t>(process) << kProcessShift);
  }
  /// The primary this particle comes from (itself for a primary).
  static constexpr std::int64_t parent(std::int64_t id) { return id & kParentMask; }
  static constexpr Process process(std::int64_t id) {
    return static_cast<Process>((id >> kProcessShift) & 0xF);
  }
  static constexpr bool isSecondary(std::int64_t id) { return parent(id) != id; }
  static constexpr std::int64_t vertex(std::int64_t id) {
    return (id & kParentMask) >> kVertexShift;
  }
};

}  // namespace trkaas
