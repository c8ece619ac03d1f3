#include "ScriptModel.hpp"

#include <sstream>
#include <unordered_map>
#include <vector>

#if TRKAAS_HAVE_AOTI
#include <torch/csrc/inductor/aoti_package/model_package_loader.h>
#endif

#include "PipelineCommon.hpp"
#include "trkaas/core/Error.hpp"
#include "trkaas/core/TextFile.hpp"

namespace trkaas::detail {

namespace {

/// Calls of one package that may run at once (the workers of a server share the models);
/// further calls wait for one to finish.
constexpr std::size_t kPackageRunners = 8;

bool isPackage(const std::string& path) {
  return path.size() > 4 && path.compare(path.size() - 4, 4, ".pt2") == 0;
}

std::string shapeOf(const torch::Tensor& t) {
  std::ostringstream s;
  s << t.sizes() << " " << t.dtype();
  return s.str();
}

}  // namespace

ScriptModel::ScriptModel(const std::string& path, ModelKind kind, std::int64_t numFeatures,
                         const std::string& name, torch::Device device, c10::ScalarType type)
    : m_path(path),
      m_name(name),
      m_kind(kind),
      m_numFeatures(numFeatures),
      m_device(device),
      m_type(type) {
  if (m_numFeatures < 1) fail("numFeatures must be at least 1");
  if (!fileExists(m_path)) fail("no such file");
  if (isPackage(m_path)) {
    loadPackage();
  } else {
    try {
      m_module = torch::jit::load(m_path, m_device);
    } catch (const std::exception& e) {
      const std::string text = e.what();
      fail("not a loadable TorchScript file: " + text.substr(0, text.find('\n')));
    }
    m_module.eval();
    checkArity();
    try {
      if (m_type != torch::kFloat32) m_module.to(m_type);
    } catch (const std::exception& e) {
      fail("cannot convert the weights to " + std::string(c10::toString(m_type)) + ": " +
           torchErrorReason(e.what()));
    }
  }
  // Probe: 3 hits with fixed values, and 2 edges for classifiers.
  const auto on = torch::TensorOptions().device(m_device);
  const torch::Tensor x =
      (torch::arange(3 * m_numFeatures, on.dtype(torch::kFloat32)).remainder(7) * 0.1 - 0.2)
          .reshape({3, m_numFeatures});
  const torch::Tensor edges = torch::tensor(std::vector<std::int64_t>{0, 1, 1, 2}, torch::kInt64)
                                  .reshape({2, 2})
                                  .to(m_device);
  torch::Tensor out;
  if (m_type == torch::kFloat32) {
    out = forward(x, edges);
  } else {
    try {
      out = forward(x, edges);
    } catch (const Error&) {
      m_floatIn = false;
      out = forward(x, edges);
    }
  }
  if (m_kind == ModelKind::kEmbedding) m_outputDim = out.size(1);
}

ScriptModel::~ScriptModel() = default;

const char* ScriptModel::format() const {
#if TRKAAS_HAVE_AOTI
  if (m_package) return "AOTInductor package";
#endif
  return "TorchScript";
}

void ScriptModel::loadPackage() {
#if TRKAAS_HAVE_AOTI
  using Loader = torch::inductor::AOTIModelPackageLoader;
  if (m_type != torch::kFloat32) {
    fail(
        "an AOTInductor package (.pt2) runs in the float32 it was compiled in; use the "
        "TorchScript models (.pt) for " +
        std::string(c10::toString(m_type)));
  }
  std::unordered_map<std::string, std::string> meta;
  try {
    meta = Loader::load_metadata_from_package(m_path, "model");
  } catch (const std::exception& e) {
    fail("not a loadable AOTInductor package: " + torchErrorReason(e.what()));
  }
  const auto key = meta.find("AOTI_DEVICE_KEY");
  const std::string wanted = m_device.is_cuda() ? "cuda" : "cpu";
  if (key != meta.end() && key->second != wanted) {
    fail("the package was compiled for " + key->second + ", but this pipeline runs on " +
         m_device.str() + ": compile one for it (tools/train/export_pt2.py --device " + wanted +
         ", on a machine of that kind)");
  }
  try {
    m_package = std::make_unique<Loader>(m_path, "model", false, kPackageRunners,
                                         m_device.is_cuda() ? m_device.index() : -1);
  } catch (const std::exception& e) {
    fail("not a loadable AOTInductor package: " + torchErrorReason(e.what()));
  }
#else
  fail(
      "is an AOTInductor package (.pt2), but this build's libtorch has no package loader "
      "(it needs libtorch 2.6 or later): use the TorchScript models (.pt)");
#endif
}

torch::Tensor ScriptModel::callPackage(const torch::Tensor& x, const torch::Tensor& edges) const {
#if TRKAAS_HAVE_AOTI
  const torch::NoGradGuard noGrad;
  std::vector<at::Tensor> in;
  std::int64_t numEdges = 0;
  if (m_kind == ModelKind::kEmbedding) {
    in.push_back(x);
  } else {
    // A compiled graph may carry guards a small graph breaks (the GNN's triplet pairs must
    // number at least 2): the call gets a disconnected chain of 4 hits (copies of hit 0,
    // shifted in the first feature) and 3 edges after the event's. Every node and edge
    // operation of the models is local to a hit or an edge or sums over a hit's edges, so
    // the chain changes nothing of the event's logits (export_pt2.py checks this), and
    // its 3 logits are dropped.
    const std::int64_t n = x.size(0);
    numEdges = edges.size(1);
    torch::Tensor extra = x.narrow(0, 0, 1).expand({4, x.size(1)}).clone();
    extra.select(1, 0).add_(torch::arange(4, x.options()) * 0.01);
    const torch::Tensor chain =
        torch::tensor(std::vector<std::int64_t>{n, n + 1, n + 2, n + 1, n + 2, n + 3},
                      torch::kInt64)
            .reshape({2, 3})
            .to(edges.device());
    in.push_back(torch::cat({x, extra}));
    in.push_back(torch::cat({edges, chain}, 1));
  }
  std::vector<at::Tensor> out;
  try {
    out = m_package->run(in);
  } catch (const std::exception& e) {
    fail("forward failed with F=" + std::to_string(m_numFeatures) +
         " input features: " + torchErrorReason(e.what()));
  }
  if (out.size() != 1) {
    fail("forward must return one tensor, got " + std::to_string(out.size()));
  }
  torch::Tensor t = out[0];
  if (m_kind == ModelKind::kEdgeClassifier && t.dim() >= 1 && t.size(0) == numEdges + 3) {
    t = t.narrow(0, 0, numEdges);
  }
  return t;
#else
  (void)x;
  (void)edges;
  fail("no package loader in this build");
#endif
}

void ScriptModel::fail(const std::string& why) const {
  std::string who = "model '" + m_name + "' (" + m_path + ")";
  if (!m_device.is_cpu() || m_type != torch::kFloat32) {
    who += " on " + m_device.str() + " in " + std::string(c10::toString(m_type));
  }
  throw Error(who + ": " + why);
}

void ScriptModel::checkArity() const {
  const auto method = m_module.find_method("forward");
  if (!method) fail("has no forward() method");
  const std::size_t args = method->function().getSchema().arguments().size() - 1;
  const std::size_t expected = m_kind == ModelKind::kEmbedding ? 1 : 2;
  if (args != expected) {
    fail("forward takes " + std::to_string(args) + " argument(s), but " +
         (m_kind == ModelKind::kEmbedding
              ? "an embedding's forward takes (x: f32[N,F])"
              : "an edge classifier's forward takes (x: f32[N,F], edge_index: i64[2,E])"));
  }
}

torch::Tensor ScriptModel::call(const torch::Tensor& x, const torch::Tensor& edges) const {
#if TRKAAS_HAVE_AOTI
  if (m_package) return callPackage(x, edges);
#endif
  const torch::NoGradGuard noGrad;
  std::vector<torch::jit::IValue> args{m_floatIn ? x : x.to(m_type)};
  if (m_kind == ModelKind::kEdgeClassifier) args.emplace_back(edges);
  torch::jit::IValue out;
  try {
    out = m_module.forward(args);
  } catch (const std::exception& e) {
    fail("forward failed with F=" + std::to_string(m_numFeatures) +
         " input features: " + torchErrorReason(e.what()));
  }
  if (!out.isTensor()) fail("forward must return one tensor, got " + out.tagKind());
  return out.toTensor();
}

torch::Tensor ScriptModel::forward(const torch::Tensor& x, const torch::Tensor& edges) const {
  const std::int64_t n = x.size(0);
  const std::int64_t numEdges = m_kind == ModelKind::kEdgeClassifier ? edges.size(1) : 0;
  if (m_kind == ModelKind::kEdgeClassifier && numEdges == 0) {
    return torch::empty({0}, x.options().dtype(torch::kFloat32));
  }
  torch::Tensor t = call(x, edges);
  // Float32 models must give float32; converted models give their own type.
  if (m_type == torch::kFloat32 ? t.scalar_type() != torch::kFloat32
                                : !torch::isFloatingType(t.scalar_type())) {
    fail(std::string("output must be ") +
         (m_type == torch::kFloat32 ? "float32" : "floating point") + ", got " + shapeOf(t));
  }
  if (m_kind == ModelKind::kEmbedding) {
    if (t.dim() != 2 || t.size(0) != n || t.size(1) < 1) {
      fail("embedding output must be [N, D] = [" + std::to_string(n) + ", D], got " + shapeOf(t));
    }
    if (m_outputDim > 1 && t.size(1) != m_outputDim) {
      fail("embedding dimension changed from " + std::to_string(m_outputDim) + " to " +
           std::to_string(t.size(1)));
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
  return t.to(torch::kFloat32).contiguous();
}

}  // namespace trkaas::detail
