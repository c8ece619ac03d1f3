#pragma once
/// Radius graph in embedding space: the graph-building stage of the pipeline.
///
/// Definition of the graph (every backend builds exactly this edge set):
///   - d(i, j) is the Euclidean distance of the float coordinates of points i and j over
///     all D dimensions, evaluated in double precision; a pair is a *neighbour pair* when
///     i != j and d(i, j) <= radius (points exactly at the radius are neighbours).
///   - Every point i keeps its `maxNeighbours` nearest neighbours, ordered by distance and,
///     at equal distance, by the smaller index (so the choice is deterministic).
///   - The graph is the union of those directed choices made undirected: the edge {i, j}
///     exists when i kept j, or j kept i, or both (the Exa.TrkX/ACTS radius graph). A point
///     can therefore end with more than `maxNeighbours` edges, but only when other points
///     chose it.
///   - Edges are written once, as (i, j) with i < j, without self loops or duplicates,
///     sorted by i then j; the result does not depend on the number of threads.
///
/// Backends: a spatial grid (cell list on the `gridDims` coordinates of widest range, cells one
/// radius wide, exact distance check in all D dimensions), O(N) for local
/// neighbourhoods, multithreaded with OpenMP (the runtime torch uses); and FAISS (flat L2 range
/// search, then the same exact check and k selection), for comparison, when trkaas is built with
/// FAISS. No FAISS types appear here.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "trkaas/core/Edges.hpp"

namespace trkaas {

class GraphBuilder {
 public:
  /// Which search finds the neighbour candidates; both give the same edges.
  enum class Backend { kGrid, kFaiss };

  struct Config {
    /// Radius r in embedding space (> 0, finite); pairs at distance <= r are neighbours.
    float radius = 0.1f;
    /// Nearest neighbours kept per point (>= 1); see the definition above.
    int maxNeighbours = 64;
    /// Threads of the grid backend (>= 1); the result is the same for any count. The FAISS
    /// backend runs its search with FAISS's own OpenMP threads.
    int threads = 1;
    /// kGrid (default, always built) or kFaiss (only when built with FAISS).
    Backend backend = Backend::kGrid;
    /// Embedding coordinates the grid is built on (1 to kMaxGridDims): the `gridDims`
    /// ones of widest range in the event, or all D when D is smaller. Each occupied cell looks up
    /// 3^(gridDims-1) rows of cells, so 2 to 4 suit embeddings of 8 to 12 dimensions.
    int gridDims = 3;
  };
  /// Largest gridDims accepted.
  static constexpr int kMaxGridDims = 8;

  /// Validates the configuration; throws trkaas::Error saying which field is wrong, or
  /// that the FAISS backend was asked for in a build without FAISS.
  explicit GraphBuilder(Config config);

  /// The radius graph of n points of dimension dim (>= 1): `points` is n*dim floats,
  /// row-major. Throws trkaas::Error on a negative n, a dim below 1, a null pointer with
  /// n > 0, or a coordinate that is NaN or infinite (naming the point and coordinate).
  EdgeList build(const float* points, std::int64_t n, std::int64_t dim) const;

  const Config& config() const { return m_config; }

  /// Whether this build of trkaas has the FAISS backend.
  static bool faissAvailable();

 private:
  Config m_config;
};

}  // namespace trkaas
