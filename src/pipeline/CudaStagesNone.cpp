/// The CUDA parts of the stages in a build without CUDA libtorch: they say so. Callers
/// need no #ifdef (STYLE rule 6); gpuPipelineAvailable() tells them in advance.
#include <string>

#include "Stages.hpp"
#include "trkaas/core/Error.hpp"
#include "trkaas/pipeline/Pipeline.hpp"

namespace trkaas::detail {

namespace {

const char* const kNoCudaTorch =
    "this build has no CUDA libtorch (configure with a CUDA-enabled PyTorch on "
    "CMAKE_PREFIX_PATH and -DTRKAAS_ENABLE_CUDA=ON)";

[[noreturn]] void noCudaTorch(const char* what) {
  throw Error(std::string(what) + ": " + kNoCudaTorch);
}

}  // namespace

c10::Stream cudaPoolStream(int) { noCudaTorch("pipeline on a GPU"); }

torch::Tensor cudaRadiusGraph(const device::GridRadiusGraph&, const torch::Tensor&,
                              const ExecutionContext&) {
  noCudaTorch("radius graph on a GPU");
}

torch::Tensor cudaComponents(const device::ConnectedComponents&, std::int64_t, const torch::Tensor&,
                             const torch::Tensor&, const torch::Tensor&, const ExecutionContext&) {
  noCudaTorch("connected components on a GPU");
}

int cudaDeviceCount() { return 0; }

}  // namespace trkaas::detail

namespace trkaas {

bool gpuPipelineAvailable(std::string& why) {
  why = detail::kNoCudaTorch;
  return false;
}

bool gpuPipelineBuilt() { return false; }

}  // namespace trkaas
