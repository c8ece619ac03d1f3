#pragma once
/// Track building: the edges kept by the GNN cut become tracks as the connected
/// components of the hit graph, one label per hit.

#include <cstdint>
#include <vector>

namespace trkaas {

class TrackBuilder {
 public:
  struct Config {
    /// Components with fewer hits than this get no track (label -1). 1 keeps them all.
    int minTrackSize = 3;
    /// Before the components, each hit keeps only its best-scoring outgoing edge (where it
    /// is the source) and best incoming edge (where it is the target); an edge survives if
    /// it is both. Splits tracks that touch at one shared hit. Needs scores; edges must be
    /// oriented (e.g. from the inner to the outer hit).
    bool junctionRemoval = false;
  };

  /// Validates the config (minTrackSize >= 1); throws trkaas::Error.
  explicit TrackBuilder(Config config);

  /// Labels for `numHits` hits from `numEdges` edges src[e] -> dst[e] with optional
  /// `scores` (may be null unless junctionRemoval). Tracks are numbered 0, 1, ... in the
  /// order of their lowest hit index; hits without a track get -1. Throws trkaas::Error
  /// for an edge endpoint outside [0, numHits) or a NaN score.
  std::vector<std::int64_t> build(std::int64_t numHits, const std::int64_t* src,
                                  const std::int64_t* dst, std::int64_t numEdges,
                                  const float* scores) const;

  const Config& config() const { return m_config; }

 private:
  Config m_config;
};

}  // namespace trkaas
