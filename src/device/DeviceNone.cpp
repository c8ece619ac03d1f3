/// The device operations of a build without CUDA (TRKAAS_ENABLE_CUDA off): they say so.
/// Callers need no #ifdef; the host drivers (runOnHost) work in every build.
#include <string>

#include "trkaas/core/Error.hpp"
#include "trkaas/device/ConnectedComponents.hpp"
#include "trkaas/device/Device.hpp"
#include "trkaas/device/GridRadiusGraph.hpp"

namespace trkaas::device {

namespace {
[[noreturn]] void noCuda(const char* what) {
  throw Error(std::string(what) +
              ": this trkaas is built without CUDA (configure with -DTRKAAS_ENABLE_CUDA=ON "
              "and a CUDA compiler); use the CPU stages or runOnHost");
}
}  // namespace

bool deviceBuiltIn() { return false; }

int deviceCount() { return 0; }

std::int64_t GridRadiusGraph::runOnDevice(const float*, std::int64_t, std::int64_t, const EdgeSink&,
                                          Stream) const {
  noCuda("GridRadiusGraph::runOnDevice");
}

EdgeList GridRadiusGraph::runOnDeviceFromHost(const float*, std::int64_t, std::int64_t) const {
  noCuda("GridRadiusGraph::runOnDeviceFromHost");
}

void ConnectedComponents::runOnDevice(std::int64_t, const std::int64_t*, const std::int64_t*,
                                      std::int64_t, const float*, std::int64_t*, Stream) const {
  noCuda("ConnectedComponents::runOnDevice");
}

std::vector<std::int64_t> ConnectedComponents::runOnDeviceFromHost(
    std::int64_t, const std::int64_t*, const std::int64_t*, std::int64_t, const float*) const {
  noCuda("ConnectedComponents::runOnDeviceFromHost");
}

}  // namespace trkaas::device
