/// The CUDA parts of the stages (Stages.hpp), built with CUDA libtorch and the device
/// module's CUDA launchers; CudaStagesNone.cpp stands in otherwise.
#include <c10/cuda/CUDAStream.h>
#include <torch/cuda.h>

#include "PipelineCommon.hpp"
#include "Stages.hpp"
#include "trkaas/core/Error.hpp"
#include "trkaas/device/Device.hpp"
#include "trkaas/pipeline/Pipeline.hpp"

namespace trkaas::detail {

namespace {

device::Stream rawStream(const ExecutionContext& ctx) {
  if (!ctx.stream) return device::Stream{nullptr};
  return device::Stream{static_cast<void*>(c10::cuda::CUDAStream(*ctx.stream).stream())};
}

}  // namespace

c10::Stream cudaPoolStream(int device) {
  return c10::cuda::getStreamFromPool(false, static_cast<c10::DeviceIndex>(device)).unwrap();
}

torch::Tensor cudaRadiusGraph(const device::GridRadiusGraph& graph, const torch::Tensor& points,
                              const ExecutionContext& ctx) {
  torch::Tensor edges;
  const device::GridRadiusGraph::EdgeSink sink = [&](std::int64_t e) {
    edges = torch::empty({2, e}, ctx.longs());
    return edges.data_ptr<std::int64_t>();
  };
  graph.runOnDevice(points.data_ptr<float>(), points.size(0), points.size(1), sink, rawStream(ctx));
  if (!edges.defined()) edges = torch::empty({2, 0}, ctx.longs());
  return edges;
}

torch::Tensor cudaComponents(const device::ConnectedComponents& components, std::int64_t n,
                             const torch::Tensor& src, const torch::Tensor& dst,
                             const torch::Tensor& scores, const ExecutionContext& ctx) {
  const torch::Tensor labels = torch::empty({n}, ctx.longs());
  if (n > 0) {
    components.runOnDevice(n, src.data_ptr<std::int64_t>(), dst.data_ptr<std::int64_t>(),
                           src.numel(), scores.defined() ? scores.data_ptr<float>() : nullptr,
                           labels.data_ptr<std::int64_t>(), rawStream(ctx));
  }
  return labels;
}

int cudaDeviceCount() { return static_cast<int>(torch::cuda::device_count()); }

}  // namespace trkaas::detail

namespace trkaas {

bool gpuPipelineBuilt() { return device::deviceBuiltIn(); }

bool gpuPipelineAvailable(std::string& why) {
  try {
    if (!gpuPipelineBuilt()) {
      why =
          "this trkaas is built without its CUDA kernels (configure with "
          "-DTRKAAS_ENABLE_CUDA=ON)";
      return false;
    }
    if (!torch::cuda::is_available()) {
      why =
          "libtorch sees no CUDA device (no GPU or no driver here, or CUDA_VISIBLE_DEVICES "
          "hides them)";
      return false;
    }
  } catch (const std::exception& e) {
    why = "libtorch cannot use CUDA: " + detail::torchErrorReason(e.what());
    return false;
  }
  why.clear();
  return true;
}

}  // namespace trkaas
