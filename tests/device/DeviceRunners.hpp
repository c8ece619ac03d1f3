#pragma once
// The ways the device module's kernel bodies are run in the tests: the host driver with
// indices in order, the host driver with indices in shuffled orders (as a GPU may visit
// them), and the CUDA launchers when this build has CUDA and the machine a GPU. One test
// body runs on each of them.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "trkaas/device/ConnectedComponents.hpp"
#include "trkaas/device/Device.hpp"
#include "trkaas/device/GridRadiusGraph.hpp"

namespace trkaas::test {

struct Runner {
  std::string name;
  /// 0: host, in order; > 0: host, shuffled with this seed; < 0: the CUDA launchers.
  std::int64_t seed = 0;
};

/// Whether the CUDA runner must be there: TRKAAS_REQUIRE_GPU=1 in the environment (set it on
/// the GPU machine, so that a build without CUDA or a missing GPU cannot pass as success).
inline bool gpuRequired() {
  const char* v = std::getenv("TRKAAS_REQUIRE_GPU");
  return v != nullptr && std::string(v) == "1";
}

inline std::vector<Runner> deviceRunners() {
  std::vector<Runner> r = {{"host", 0}, {"host-shuffled-1", 1}, {"host-shuffled-2", 977}};
  if (device::deviceBuiltIn() && device::deviceCount() > 0) {
    r.push_back({"cuda", -1});
  }
  return r;
}

inline EdgeList runGraph(const Runner& r, const device::GridRadiusGraph& graph, const float* points,
                         std::int64_t n, std::int64_t dim) {
  if (r.seed < 0) {
    return graph.runOnDeviceFromHost(points, n, dim);
  }
  return graph.runOnHost(points, n, dim, static_cast<std::uint64_t>(r.seed));
}

inline std::vector<std::int64_t> runComponents(const Runner& r,
                                               const device::ConnectedComponents& cc,
                                               std::int64_t numHits,
                                               const std::vector<std::int64_t>& src,
                                               const std::vector<std::int64_t>& dst,
                                               const float* scores) {
  const auto numEdges = static_cast<std::int64_t>(src.size());
  if (r.seed < 0) {
    return cc.runOnDeviceFromHost(numHits, src.data(), dst.data(), numEdges, scores);
  }
  return cc.runOnHost(numHits, src.data(), dst.data(), numEdges, scores,
                      static_cast<std::uint64_t>(r.seed));
}

}  // namespace trkaas::test
