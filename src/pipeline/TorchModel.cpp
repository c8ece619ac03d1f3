#include "trkaas/pipeline/TorchModel.hpp"

#include <ATen/Parallel.h>
#include <torch/script.h>

#include <sstream>

#include "PipelineCommon.hpp"
#include "trkaas/core/Error.hpp"
#include "trkaas/core/TextFile.hpp"

namespace trkaas {

struct TorchModel::Impl {
  Config config;
  // forward() is not const in the torch API; inference does not change the module.
  mutable torch::jit::Module module;
  std::int64_t outputDim = 1;

  std::string who() const { return "model '" + config.name + "' (" + config.path + ")"; }
  [[noreturn]] void fail(const std::string& why) const { throw Error(who() + ": " + why); }

  /// The number of arguments of forward() besides self must match the kind.
  void checkArity() const {
    const auto method = module.find_method("forward");
    if (!method) fail("has no forward() method");
    const std::size_t args = method->function().getSchema().arguments().size() - 1;
    const std::size_t expected = config.kind == ModelKind::kEmbedding ? 1 : 2;
    if (args != expected) {
      fail("forward takes " + std::to_string(args) + " argument(s), but " +
           (config.kind == ModelKind::kEmbedding
                ? "an embedding's forward takes (x: f32[N,F])"
                : "an edge classifier's forward takes (x: f32[N,F], edge_index: i64[2,E])"));
    }
  }

  static std::string shapeOf(const torch::Tensor& t) {
    std::ostringstream s;
    s << t.sizes() << " " << t.dtype();
    return s.str();
  }

  torch::Tensor run(const float* x, std::int64_t n, const std::int64_t* edges,
                    std::int64_t numEdges) const {
    torch::NoGradGuard noGrad;
    // from_blob does not copy: the inputs stay owned by the caller for the call.
    auto input = torch::from_blob(const_cast<float*>(x), {n, config.numFeatures},
                                  torch::TensorOptions().dtype(torch::kFloat32));
    std::vector<torch::jit::IValue> args{input};
    if (config.kind == ModelKind::kEdgeClassifier) {
      args.emplace_back(torch::from_blob(const_cast<std::int64_t*>(edges), {2, numEdges},
                                         torch::TensorOptions().dtype(torch::kInt64)));
    }
    torch::jit::IValue out;
    try {
      out = module.forward(args);
    } catch (const std::exception& e) {
      fail("forward failed with F=" + std::to_string(config.numFeatures) +
           " input features: " + detail::torchErrorReason(e.what()));
    }
    if (!out.isTensor()) fail("forward must return one tensor, got " + out.tagKind());
    return out.toTensor();
  }

  /// Checks an output against the contract for n hits / numEdges edges.
  torch::Tensor check(torch::Tensor t, std::int64_t n, std::int64_t numEdges) const {
    if (t.scalar_type() != torch::kFloat32) {
      fail("output must be float32, got " + shapeOf(t));
    }
    if (config.kind == ModelKind::kEmbedding) {
      if (t.dim() != 2 || t.size(0) != n || t.size(1) < 1) {
        fail("embedding output must be [N, D] = [" + std::to_string(n) + ", D], got " + shapeOf(t));
      }
    } else {
      const bool flat = t.dim() == 1 && t.size(0) == numEdges;
      const bool column = t.dim() == 2 && t.size(0) == numEdges && t.size(1) == 1;
      if (!flat && !column) {
        fail("edge classifier output must be logits [E] or [E, 1] with E = " +
             std::to_string(numEdges) + ", got " + shapeOf(t));
      }
      t = t.reshape({numEdges});
    }
    return t.contiguous();
  }
};

TorchModel::TorchModel(Config config) : m_impl(std::make_unique<Impl>()) {
  Impl& d = *m_impl;
  d.config = std::move(config);
  if (d.config.numFeatures < 1) d.fail("numFeatures must be at least 1");
  if (!fileExists(d.config.path)) d.fail("no such file");
  try {
    d.module = torch::jit::load(d.config.path, torch::kCPU);
  } catch (const std::exception& e) {
    std::string text = e.what();
    d.fail("not a loadable TorchScript file: " + text.substr(0, text.find('\n')));
  }
  d.module.eval();
  d.checkArity();
  // Probe: 3 hits with fixed values, and 2 edges for classifiers.
  const std::int64_t n = 3;
  std::vector<float> x(static_cast<std::size_t>(n * d.config.numFeatures));
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = 0.1f * static_cast<float>(i % 7) - 0.2f;
  const std::vector<std::int64_t> edges = {0, 1, 1, 2};
  const torch::Tensor out = d.check(d.run(x.data(), n, edges.data(), 2), n, 2);
  if (d.config.kind == ModelKind::kEmbedding) d.outputDim = out.size(1);
}

TorchModel::~TorchModel() = default;
TorchModel::TorchModel(TorchModel&&) noexcept = default;
TorchModel& TorchModel::operator=(TorchModel&&) noexcept = default;

const TorchModel::Config& TorchModel::config() const { return m_impl->config; }
std::int64_t TorchModel::outputDim() const { return m_impl->outputDim; }

std::vector<float> TorchModel::embed(const float* x, std::int64_t n) const {
  const Impl& d = *m_impl;
  if (d.config.kind != ModelKind::kEmbedding) d.fail("embed() called on an edge classifier");
  const torch::Tensor out = d.check(d.run(x, n, nullptr, 0), n, 0);
  if (out.size(1) != d.outputDim) {
    d.fail("embedding dimension changed from " + std::to_string(d.outputDim) + " to " +
           std::to_string(out.size(1)));
  }
  const float* p = out.data_ptr<float>();
  return std::vector<float>(p, p + out.numel());
}

std::vector<float> TorchModel::classify(const float* x, std::int64_t n, const std::int64_t* edges,
                                        std::int64_t numEdges) const {
  const Impl& d = *m_impl;
  if (d.config.kind != ModelKind::kEdgeClassifier) d.fail("classify() called on an embedding");
  const torch::Tensor out = d.check(d.run(x, n, edges, numEdges), n, numEdges);
  const float* p = out.data_ptr<float>();
  return std::vector<float>(p, p + out.numel());
}

void setTorchThreads(int threads) {
  if (threads < 1) throw Error("torch threads must be at least 1, got " + std::to_string(threads));
  at::set_num_threads(threads);
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
