#pragma once
/// A TorchScript model of the pipeline, checked against its contract when loaded.
///
/// The contract (shared with the ACTS GNN plugin and the community's exported models):
///   embedding:        forward(x: f32[N,F]) -> f32[N,D]
///   edge classifier:  forward(x: f32[N,F], edge_index: i64[2,E]) -> logits f32[E] or [E,1]
/// (filter and GNN alike; the sigmoid is applied outside). Models saved on a GPU are
/// loaded onto the CPU. At load a tiny probe forward checks the contract; a model that
/// breaks it is refused with a message naming the model, its file and what is wrong.
/// No torch types appear here (pImpl).

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace trkaas {

/// Which contract a model must follow.
enum class ModelKind { kEmbedding, kEdgeClassifier };

class TorchModel {
 public:
  struct Config {
    /// TorchScript file (torch.jit.save).
    std::string path;
    ModelKind kind = ModelKind::kEmbedding;
    /// Number of input features F per hit the pipeline will give the model.
    std::int64_t numFeatures = 3;
    /// Short name for messages ("embedding", "filter", "gnn").
    std::string name = "model";
  };

  /// Loads and probes the model. Throws trkaas::Error naming the model on a missing
  /// file, a file that is not TorchScript, or a broken contract.
  explicit TorchModel(Config config);
  ~TorchModel();
  TorchModel(TorchModel&&) noexcept;
  TorchModel& operator=(TorchModel&&) noexcept;

  const Config& config() const;
  /// Output dimension D of an embedding (found by the probe); 1 for edge classifiers.
  std::int64_t outputDim() const;

  /// Embedding of n hits: `x` is n*F floats row-major; returns n*D floats row-major.
  std::vector<float> embed(const float* x, std::int64_t n) const;
  /// Edge logits: `x` as for embed(), `edges` 2*E int64 row-major (sources, then
  /// targets); returns E logits.
  std::vector<float> classify(const float* x, std::int64_t n, const std::int64_t* edges,
                              std::int64_t numEdges) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

/// Bounds the thread pools of the process's numerical libraries by `threads`: torch's
/// intra-op pool (OpenMP: for the calling thread; MKL), its inter-op pool (the first count
/// set in the process is kept: it cannot change once started), and OpenBLAS where it is
/// loaded (Debian's libtorch). The grid radius graph uses the same OpenMP runtime.
void setTorchThreads(int threads);

/// setTorchThreads for the calling thread, once per thread and count: torch's OpenMP
/// backend keeps the count per thread, so every thread that runs models must set it.
void useTorchThreadsInThisThread(int threads);

}  // namespace trkaas
