/// GpuOptions helpers, the same in builds with and without CUDA libtorch.
#include <memory>
#include <string>

#include "trkaas/pipeline/GpuPipeline.hpp"

namespace trkaas {

std::string toString(GpuOptions::Precision precision) {
  switch (precision) {
    case GpuOptions::kFloat16:
      return "float16";
    case GpuOptions::kBFloat16:
      return "bfloat16";
    case GpuOptions::kFloat32:
      break;
  }
  return "float32";
}

/// The same in both builds: GpuModels' constructor is what differs.
std::shared_ptr<const GpuModels> loadGpuModels(const PipelineConfig& config,
                                               const GpuOptions& options) {
  return std::make_shared<const GpuModels>(config, options);
}

}  // namespace trkaas
