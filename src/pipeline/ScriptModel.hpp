#pragma once
/// One model of the pipeline on one device, in one precision, checked against its contract
/// when loaded (trkaas/pipeline/TorchModel.hpp states the contract): a TorchScript file, or
/// an AOTInductor package (a path ending in .pt2, tools/train/export_pt2.py) where libtorch
/// has the package loader (2.6 and later). The one loader of the project: PipelineModels
/// holds three of them, TorchModel wraps one on the CPU. Internal (torch types); not
/// installed.

#include <torch/script.h>

#include <cstdint>
#include <memory>
#include <string>

#if __has_include(<torch/csrc/inductor/aoti_package/model_package_loader.h>)
#define TRKAAS_HAVE_AOTI 1
namespace torch::inductor {
class AOTIModelPackageLoader;
}
#else
#define TRKAAS_HAVE_AOTI 0
#endif

#include "trkaas/pipeline/TorchModel.hpp"

namespace trkaas::detail {

class ScriptModel {
 public:
  /// Loads `path` onto `device`, converts its weights to `type` and probes it there (3
  /// hits, 2 edges). Float32 features are tried first; in half precision a model that
  /// refuses them gets features rounded to its own type (fp16 keeps phi to ~1.5 mrad, more
  /// than a 1 GeV track's sagitta between pixel layers: models should take float32 and
  /// cast after their geometry, as the shipped ones do). Throws trkaas::Error naming the
  /// model, its file and, off the CPU, the device.
  /// A .pt2 package runs in float32 on the device kind it was compiled for; asking for
  /// another precision or device is an error that says so.
  ScriptModel(const std::string& path, ModelKind kind, std::int64_t numFeatures,
              const std::string& name, torch::Device device = torch::kCPU,
              c10::ScalarType type = torch::kFloat32);
  ~ScriptModel();

  /// The model on float32 features x [N, F] (on the model's device): an embedding's
  /// [N, D], or an edge classifier's logits [E] on `edges` [2, E] (int64), both float32
  /// and contiguous. Throws trkaas::Error naming the model on a failed forward or an output
  /// that breaks the contract.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& edges = {}) const;

  /// Output dimension D of an embedding (from the probe); 1 for edge classifiers.
  std::int64_t outputDim() const { return m_outputDim; }
  std::int64_t numFeatures() const { return m_numFeatures; }
  ModelKind kind() const { return m_kind; }
  const std::string& path() const { return m_path; }
  const std::string& name() const { return m_name; }
  /// "TorchScript" or "AOTInductor package".
  const char* format() const;

 private:
  [[noreturn]] void fail(const std::string& why) const;
  void checkArity() const;
  torch::Tensor call(const torch::Tensor& x, const torch::Tensor& edges) const;
  void loadPackage();
  torch::Tensor callPackage(const torch::Tensor& x, const torch::Tensor& edges) const;

  std::string m_path, m_name;
  ModelKind m_kind;
  std::int64_t m_numFeatures;
  torch::Device m_device;
  c10::ScalarType m_type;
  // forward() is not const in the torch API; inference does not change the module.
  mutable torch::jit::Module m_module;
#if TRKAAS_HAVE_AOTI
  /// Set for a .pt2 package (m_module then unused).
  std::unique_ptr<torch::inductor::AOTIModelPackageLoader> m_package;
#endif
  bool m_floatIn = true;  ///< false: features are cast to m_type before the call
  std::int64_t m_outputDim = 1;
};

}  // namespace trkaas::detail
