#pragma once
/// The stages of the one pipeline (Pipeline.cpp chains them). Each takes tensors on the
/// pipeline's device and an execution context, and owns its configuration:
///   NodeEmbedding       the TorchScript embedding (its model, its precision);
///   GraphConstruction   the radius graph in embedding space: RadiusGraphStage owns radius,
///                       k, grid dimensions and backend (CPU grid, FAISS, CUDA grid);
///   EdgeClassification  an edge classifier: TorchScriptClassifier owns its model, cut,
///                       chunk size, undirected flag (its precision is the model's);
///   TrackBuilding       labels from the kept edges: ComponentsStage owns junction
///                       removal and the minimum size.
/// Where a stage needs different code per device (radius graph, components) its two
/// implementations sit behind it (pipeline/GraphBuilder or device/GridRadiusGraph;
/// pipeline/TrackBuilder or device/ConnectedComponents), chosen by the tensors' device and
/// tested against each other (tests/device). A new backend (ONNX, TensorRT, another graph
/// builder) is one more class behind one of these interfaces.
/// Internal (torch types); not installed.

#include <torch/script.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "ScriptModel.hpp"
#include "trkaas/device/ConnectedComponents.hpp"
#include "trkaas/device/GridRadiusGraph.hpp"
#include "trkaas/pipeline/GraphBuilder.hpp"
#include "trkaas/pipeline/TrackBuilder.hpp"

namespace trkaas::detail {

/// Where a pipeline instance runs: its device, its stream there (CUDA: this instance's,
/// from torch's pool, made current while it runs) and its threads.
struct ExecutionContext {
  torch::Device device{torch::kCPU};
  std::optional<c10::Stream> stream;
  int threads = 1;

  bool onCuda() const { return device.is_cuda(); }
  /// Waits for the instance's work on the device (nothing to wait for on the CPU).
  void synchronize() const;
  torch::TensorOptions floats() const {
    return torch::TensorOptions().dtype(torch::kFloat32).device(device);
  }
  torch::TensorOptions longs() const {
    return torch::TensorOptions().dtype(torch::kInt64).device(device);
  }
};

class NodeEmbedding {
 public:
  /// `chunk` hits per model call (0: all in one), for embeddings that treat each hit alone.
  NodeEmbedding(const ScriptModel& model, std::int64_t chunk) : m_model(model), m_chunk(chunk) {}
  /// Embedding [N, D] float32 of the features x [N, F].
  torch::Tensor embed(const torch::Tensor& x) const;
  std::int64_t dim() const { return m_model.outputDim(); }

 private:
  const ScriptModel& m_model;
  std::int64_t m_chunk;
};

class GraphConstruction {
 public:
  virtual ~GraphConstruction() = default;
  /// The radius graph of `points` [N, D] (float32, contiguous, on the context's device) as
  /// edges [2, E] int64 on that device, i < j, sorted (trkaas/pipeline/GraphBuilder.hpp
  /// defines the edge set every backend builds).
  virtual torch::Tensor build(const torch::Tensor& points, const ExecutionContext& ctx) const = 0;
};

class EdgeClassification {
 public:
  virtual ~EdgeClassification() = default;
  /// Logits [E] float32 of `edges` [2, E] of the hits with features x [N, F].
  virtual torch::Tensor score(const torch::Tensor& x, const torch::Tensor& edges,
                              const ExecutionContext& ctx) const = 0;
  /// The cut on sigmoid(logit): edges above it are kept.
  virtual float cut() const = 0;
  /// The edges above the cut [2, E'] and their logits [E'], in order.
  std::pair<torch::Tensor, torch::Tensor> select(const torch::Tensor& x, const torch::Tensor& edges,
                                                 const ExecutionContext& ctx) const;
};

class TrackBuilding {
 public:
  virtual ~TrackBuilding() = default;
  /// Labels [N] int64 on the context's device for n hits from the kept edges [2, E] with
  /// their logits [E]; `xyz` [N, 3] float32 positions where needsPositions(). Tracks
  /// numbered 0, 1, ... by their lowest hit, -1 for none. `grow` [2, G] and `growScores`
  /// [G], defined only with an extension cut: the edges along which the tracks then grow
  /// at their ends (TrackBuilder::extend).
  virtual torch::Tensor labels(std::int64_t n, const torch::Tensor& edges,
                               const torch::Tensor& scores, const torch::Tensor& xyz,
                               const ExecutionContext& ctx, const torch::Tensor& grow,
                               const torch::Tensor& growScores) const = 0;
  virtual bool needsPositions() const = 0;
};

/// The radius graph: GraphBuilder on CPU tensors (grid or FAISS), device::GridRadiusGraph
/// on CUDA tensors. FAISS is refused for a CUDA context at construction.
class RadiusGraphStage final : public GraphConstruction {
 public:
  RadiusGraphStage(const GraphBuilder::Config& config, const ExecutionContext& ctx);
  torch::Tensor build(const torch::Tensor& points, const ExecutionContext& ctx) const override;

 private:
  GraphBuilder m_cpu;
  std::optional<device::GridRadiusGraph> m_cuda;
};

/// A TorchScript edge classifier: logits in chunks of `chunk` edges (0: all in one call,
/// as a GNN needs), with `undirected` the mean of both directions' logits (the model sees
/// each edge twice in one call).
class TorchScriptClassifier final : public EdgeClassification {
 public:
  TorchScriptClassifier(const ScriptModel& model, float cut, std::int64_t chunk, bool undirected);
  torch::Tensor score(const torch::Tensor& x, const torch::Tensor& edges,
                      const ExecutionContext& ctx) const override;
  float cut() const override { return m_cut; }

 private:
  const ScriptModel& m_model;
  float m_cut;
  std::int64_t m_chunk;
  bool m_undirected;
};

/// Connected components, with junction removal on edges oriented outwards: TrackBuilder
/// (union-find) on CPU tensors, device::ConnectedComponents on CUDA tensors. The walk
/// (TrackBuilder::Method::Walk, edges oriented outwards) runs on the host for either: its
/// input is the GNN's kept edges, a few per hit. So does the extension (`extend`), for
/// either builder.
class ComponentsStage final : public TrackBuilding {
 public:
  ComponentsStage(const TrackBuilder::Config& config, bool extend);
  torch::Tensor labels(std::int64_t n, const torch::Tensor& edges, const torch::Tensor& scores,
                       const torch::Tensor& xyz, const ExecutionContext& ctx,
                       const torch::Tensor& grow, const torch::Tensor& growScores) const override;
  bool needsPositions() const override {
    return m_extend || m_cpu.config().junctionRemoval ||
           m_cpu.config().method == TrackBuilder::Method::Walk;
  }

 private:
  TrackBuilder m_cpu;
  bool m_extend;
  device::ConnectedComponents m_cuda;
};

// ---- CUDA specifics (CudaStages.cpp; CudaStagesNone.cpp throws saying why) ------------

/// A stream from torch's pool on CUDA device `device`.
c10::Stream cudaPoolStream(int device);
/// device::GridRadiusGraph::runOnDevice on CUDA `points`, on the context's stream.
torch::Tensor cudaRadiusGraph(const device::GridRadiusGraph& graph, const torch::Tensor& points,
                              const ExecutionContext& ctx);
/// device::ConnectedComponents::runOnDevice on CUDA tensors, on the context's stream.
torch::Tensor cudaComponents(const device::ConnectedComponents& components, std::int64_t n,
                             const torch::Tensor& src, const torch::Tensor& dst,
                             const torch::Tensor& scores, const ExecutionContext& ctx);
/// CUDA devices libtorch sees (0 in a build without CUDA libtorch).
int cudaDeviceCount();

}  // namespace trkaas::detail
