#pragma once
/// Track building as data-parallel steps: optional junction removal, connected components
/// by hooking and pointer jumping, minimum track size, labels. The track building of the
/// GPU pipeline.
///
/// It gives exactly the labels of trkaas/pipeline/TrackBuilder.hpp (the CPU builder, which
/// uses union-find): tracks numbered 0, 1, ... in the order of their lowest hit index, -1
/// for hits in components smaller than minTrackSize. Junction removal keeps an edge when it
/// is both the best-scoring outgoing edge of its source and the best incoming edge of its
/// target (ties to the lower edge index).
/// `runOnHost` loops the kernel bodies over all indices on the CPU; `runOnDevice` launches
/// them as CUDA kernels (only in a build with CUDA).

#include <cstdint>
#include <vector>

#include "trkaas/device/Device.hpp"

namespace trkaas::device {

class ConnectedComponents {
 public:
  struct Config {
    /// Components with fewer hits than this get no track (label -1). 1 keeps them all.
    int minTrackSize = 3;
    /// Keep only edges that are the best outgoing edge of their source and the best
    /// incoming edge of their target (needs scores and oriented edges).
    bool junctionRemoval = false;
  };

  /// Validates the configuration (minTrackSize >= 1); throws trkaas::Error.
  explicit ConnectedComponents(Config config);

  /// Labels of `numHits` hits from `numEdges` edges src[e] -> dst[e] with optional
  /// `scores` (may be null unless junctionRemoval), all in host memory, computed by the
  /// kernel bodies on the CPU. A non-zero `scheduleSeed` visits the indices of every step
  /// in a pseudo-random order (as a GPU may run them); the labels must not change. Throws
  /// trkaas::Error for negative counts, an edge end outside [0, numHits), a NaN score, or
  /// junction removal without scores.
  std::vector<std::int64_t> runOnHost(std::int64_t numHits, const std::int64_t* src,
                                      const std::int64_t* dst, std::int64_t numEdges,
                                      const float* scores, std::uint64_t scheduleSeed = 0) const;

  /// The same labels from edges (and scores, may be null) in device memory, written to
  /// `labels` (numHits int64 in device memory), on `stream`. Scratch memory is taken with
  /// cudaMallocAsync on the stream; the stream is synchronised once for the input check
  /// and once per hooking round. Throws as runOnHost does, on a CUDA error, and always in a
  /// build without CUDA.
  void runOnDevice(std::int64_t numHits, const std::int64_t* src, const std::int64_t* dst,
                   std::int64_t numEdges, const float* scores, std::int64_t* labels,
                   Stream stream) const;

  /// runOnDevice on host arrays: copies in, runs on the default stream, copies the labels
  /// out. For tests and tools; throws in a build without CUDA.
  std::vector<std::int64_t> runOnDeviceFromHost(std::int64_t numHits, const std::int64_t* src,
                                                const std::int64_t* dst, std::int64_t numEdges,
                                                const float* scores) const;

  const Config& config() const { return m_config; }

 private:
  Config m_config;
};

}  // namespace trkaas::device
