/// GpuPipeline and GpuModels of a build without CUDA libtorch: they say so. Callers need no
/// #ifdef (STYLE rule 6); gpuPipelineAvailable() tells them in advance.
#include <string>

#include "trkaas/core/Error.hpp"
#include "trkaas/pipeline/GpuPipeline.hpp"

namespace trkaas {

namespace {

const char* const kNoCudaTorch =
    "this build has no CUDA libtorch (configure with a CUDA-enabled PyTorch on "
    "CMAKE_PREFIX_PATH and -DTRKAAS_ENABLE_CUDA=ON)";

[[noreturn]] void noCudaTorch(const char* what) {
  throw Error(std::string(what) + ": " + kNoCudaTorch);
}

}  // namespace

struct GpuModels::Impl {
  GpuOptions options;
};

GpuModels::GpuModels(const PipelineConfig&, const GpuOptions&) { noCudaTorch("gpu models"); }
GpuModels::~GpuModels() = default;
const GpuOptions& GpuModels::options() const { return m_impl->options; }
std::int64_t GpuModels::embeddingDim() const { return 0; }

struct GpuPipeline::Impl {
  PipelineConfig config;
  GpuOptions options;
};

GpuPipeline::GpuPipeline(PipelineConfig, GpuOptions, std::shared_ptr<const GpuModels>) {
  noCudaTorch("gpu pipeline");
}
GpuPipeline::~GpuPipeline() = default;
GpuPipeline::GpuPipeline(GpuPipeline&&) noexcept = default;
GpuPipeline& GpuPipeline::operator=(GpuPipeline&&) noexcept = default;
const PipelineConfig& GpuPipeline::config() const { return m_impl->config; }
const GpuOptions& GpuPipeline::options() const { return m_impl->options; }

PipelineResult GpuPipeline::run(const Event&, const std::string&) { noCudaTorch("gpu pipeline"); }

std::vector<PipelineResult> GpuPipeline::runBatch(const std::vector<const Event*>&,
                                                  const std::string&) {
  noCudaTorch("gpu pipeline");
}

bool gpuPipelineAvailable(std::string& why) {
  why = kNoCudaTorch;
  return false;
}

bool gpuPipelineBuilt() { return false; }

}  // namespace trkaas
