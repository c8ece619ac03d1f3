/// TorchModel: one ScriptModel on the CPU in float32, behind raw pointers.
#include "trkaas/pipeline/TorchModel.hpp"

#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <torch/script.h>

#include <mutex>

#include "ScriptModel.hpp"
#include "trkaas/core/Error.hpp"

namespace trkaas {

struct TorchModel::Impl {
  Config config;
  std::unique_ptr<detail::ScriptModel> model;

  [[noreturn]] void fail(const std::string& why) const {
    throw Error("model '" + config.name + "' (" + config.path + "): " + why);
  }
};

TorchModel::TorchModel(Config config) : m_impl(std::make_unique<Impl>()) {
  m_impl->config = std::move(config);
  const Config& c = m_impl->config;
  m_impl->model = std::make_unique<detail::ScriptModel>(c.path, c.kind, c.numFeatures, c.name);
}

TorchModel::~TorchModel() = default;
TorchModel::TorchModel(TorchModel&&) noexcept = default;
TorchModel& TorchModel::operator=(TorchModel&&) noexcept = default;

const TorchModel::Config& TorchModel::config() const { return m_impl->config; }
std::int64_t TorchModel::outputDim() const { return m_impl->model->outputDim(); }

namespace {

torch::Tensor hostFeatures(const float* x, std::int64_t n, std::int64_t f) {
  // from_blob does not copy: the inputs stay owned by the caller for the call.
  return torch::from_blob(const_cast<float*>(x), {n, f}, torch::kFloat32);
}

std::vector<float> toVector(const torch::Tensor& t) {
  const float* p = t.data_ptr<float>();
  return std::vector<float>(p, p + t.numel());
}

}  // namespace

std::vector<float> TorchModel::embed(const float* x, std::int64_t n) const {
  const Impl& d = *m_impl;
  if (d.config.kind != ModelKind::kEmbedding) d.fail("embed() called on an edge classifier");
  return toVector(d.model->forward(hostFeatures(x, n, d.config.numFeatures)));
}

std::vector<float> TorchModel::classify(const float* x, std::int64_t n, const std::int64_t* edges,
                                        std::int64_t numEdges) const {
  const Impl& d = *m_impl;
  if (d.config.kind != ModelKind::kEdgeClassifier) d.fail("classify() called on an embedding");
  const torch::Tensor index =
      torch::from_blob(const_cast<std::int64_t*>(edges), {2, numEdges}, torch::kInt64);
  return toVector(d.model->forward(hostFeatures(x, n, d.config.numFeatures), index));
}

void setTorchThreads(int threads) {
  if (threads < 1) throw Error("torch threads must be at least 1, got " + std::to_string(threads));
  // Intra-op: torch's OpenMP pool for the calling thread, and MKL where torch has it.
  at::set_num_threads(threads);
  // Inter-op (TorchScript's fork/wait): settable once, before its first use; the first
  // count a process sets is kept (the pipelines of one rank share the rank's -j).
  static std::once_flag interop;
  std::call_once(interop, [threads] {
    try {
      at::set_num_interop_threads(threads);
    } catch (const std::exception&) {
      // Already started by someone else: it keeps its size.
    }
  });
  // OpenBLAS (Debian's libtorch uses it) starts a thread per core and spins them on every
  // large product unless told otherwise; PyPI's torch has no OpenBLAS, then this is a
  // no-op.
  using SetThreads = void (*)(int);
  static const auto openblas =
      reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  if (openblas != nullptr) openblas(threads);
}

void useTorchThreadsInThisThread(int threads) {
  // With torch's OpenMP backend the thread count is per calling thread (OpenMP's ICV): a
  // worker thread started with std::thread would otherwise use all cores.
  thread_local int current = 0;
  if (current == threads) return;
  setTorchThreads(threads);
  current = threads;
}

}  // namespace trkaas
