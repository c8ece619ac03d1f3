#pragma once
/// Radius graph on a grid (cell list) as a sequence of data-parallel steps: the graph
/// building of the GPU pipeline.
///
/// It builds exactly the edge set defined in trkaas/pipeline/GraphBuilder.hpp (the CPU
/// builder): d(i, j) in double precision over all D coordinates, neighbours within the
/// radius (<=), each point keeps its `maxNeighbours` nearest (ties by the lower index), the
/// union made undirected as i < j, sorted by i then j, no duplicates, no self loops.
///
/// Steps (each one a kernel body of one index, see src/device/README.md): bounds of the
/// points, cell key per point, points sorted by cell, per point the count of its kept
/// neighbours, a scan of the counts, per point its k nearest (a small heap in its own slice
/// of one buffer) written as undirected pair keys, then sort and unique of the keys.
/// `runOnHost` loops those bodies over all indices on the CPU; `runOnDevice` launches them
/// as CUDA kernels (only in a build with CUDA).

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "trkaas/core/Edges.hpp"
#include "trkaas/device/Device.hpp"

namespace trkaas::device {

/// What is wrong with a radius graph's radius, k or grid dimensions (the fields every
/// backend shares, the CPU builder's included), or "" when nothing is.
std::string radiusGraphConfigError(float radius, int maxNeighbours, int gridDims);

class GridRadiusGraph {
 public:
  struct Config {
    /// Radius r in embedding space (> 0, finite); pairs at distance <= r are neighbours.
    float radius = 0.1f;
    /// Nearest neighbours kept per point (>= 1).
    int maxNeighbours = 64;
    /// Embedding coordinates the grid is laid over (1 to kMaxGridDims): the `gridDims` of
    /// widest range, as in the CPU builder. Each point looks up 3^(gridDims-1) runs of
    /// cells. The edges never depend on it, only the work does.
    int gridDims = 3;
  };
  /// Largest gridDims accepted (the CPU builder's limit).
  static constexpr int kMaxGridDims = 8;

  /// Where `runOnDevice` writes its edges. Called once, with the number of edges E (also
  /// when E is 0); returns a device pointer to 2*E int64 values: the E sources, then the E
  /// targets (the layout of a contiguous [2, E] tensor). May return nullptr when E is 0.
  using EdgeSink = std::function<std::int64_t*(std::int64_t numEdges)>;

  /// Validates the configuration; throws trkaas::Error naming the wrong field.
  explicit GridRadiusGraph(Config config);

  /// The radius graph of n points of dimension dim (>= 1), `points` being n*dim floats,
  /// row-major in host memory, computed by the kernel bodies on the CPU. A non-zero
  /// `scheduleSeed` visits the indices of every step in a pseudo-random order instead of
  /// 0..count-1 (as a GPU may run them); the result must not change. Throws trkaas::Error
  /// on a negative n, dim < 1, a null pointer with n > 0, or a non-finite coordinate
  /// (naming the point and coordinate).
  EdgeList runOnHost(const float* points, std::int64_t n, std::int64_t dim,
                     std::uint64_t scheduleSeed = 0) const;

  /// The same graph from points in device memory, on `stream`. Scratch memory is taken
  /// with cudaMallocAsync on the stream. Synchronises the stream three times (bounds, the
  /// kept-neighbour total, the edge count) and returns E after `sink` has received the
  /// edges (the copy into the sink's memory is queued on `stream`). Throws trkaas::Error
  /// as runOnHost does, on a CUDA error, and always in a build without CUDA.
  std::int64_t runOnDevice(const float* devicePoints, std::int64_t n, std::int64_t dim,
                           const EdgeSink& sink, Stream stream) const;

  /// runOnDevice on host points: copies them in, runs on the default stream, copies the
  /// edges out. For tests and tools; throws in a build without CUDA.
  EdgeList runOnDeviceFromHost(const float* points, std::int64_t n, std::int64_t dim) const;

  const Config& config() const { return m_config; }

 private:
  Config m_config;
};

}  // namespace trkaas::device
