#pragma once
/// The Exa.TrkX inference chain for one event, on the CPU or on one CUDA device: features
/// -> embedding -> radius graph -> filter (cut) -> GNN (cut) -> track building. One chain
/// for every device: the stages (src/pipeline/Stages.hpp) take tensors on the pipeline's
/// device; where a stage needs different code per device (radius graph, components) its
/// two implementations sit behind the one stage.
///
/// Model-wide state apart from per-instance state (STYLE rule 9): the three models are
/// loaded and probed once per device and precision into PipelineModels and shared
/// (std::shared_ptr<const PipelineModels>) by any number of Pipeline instances; each
/// worker thread owns one Pipeline, which owns its execution context (on CUDA a stream
/// from torch's pool, current for all its work), its reusable host buffers and its thread
/// count. No torch or CUDA types appear here (pImpl).

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "trkaas/core/Event.hpp"
#include "trkaas/pipeline/FeatureBuilder.hpp"
#include "trkaas/pipeline/GraphBuilder.hpp"
#include "trkaas/pipeline/TrackBuilder.hpp"

namespace trkaas {

struct PipelineConfig {
  /// Detector volumes the models were trained on; hits elsewhere get no track (-1).
  /// Empty: all hits.
  std::vector<std::int32_t> volumes;
  FeatureBuilder::Config features;
  /// TorchScript files of the three models.
  std::string embeddingModel, filterModel, gnnModel;
  GraphBuilder::Config graph;
  /// Edges whose sigmoid(logit) is above the cut are kept.
  float filterCut = 0.5f;
  float gnnCut = 0.5f;
  /// A lower GNN cut along which the built tracks grow at their ends into hits without a
  /// track (TrackBuilder::extend): 0, the default, for none; else in (0, gnnCut).
  float extendCut = 0.0f;
  /// The filter scores at most this many edges per call on the CPU, bounding its memory.
  /// Small chunks keep the layers' [chunk, hidden] tensors in cache and off fresh pages:
  /// measured at pile-up 200 on one thread (BENCHMARKS.md), 2^16 edges made the filter 22%
  /// faster than 2^20 and halved the system time. A GPU uses ExecutionOptions::edgeChunk.
  std::int64_t filterChunk = 1 << 16;
  /// Hits per embedding call on the CPU (0: all in one call). Only for embeddings that
  /// treat each hit on its own (an MLP, as Exa.TrkX's): the pipeline cannot check that, so
  /// it is off unless the pipeline YAML says so (`embedding_chunk`). Measured at pile-up
  /// 200 with the shipped MLP: 4096 hits per call ~13% faster than all at once.
  std::int64_t embeddingChunk = 0;
  /// Score every edge in both directions, (i, j) and (j, i), and average the two logits:
  /// for filter and GNN models that are not symmetric in the two ends of an edge. The GNN
  /// then passes messages over both directions of each edge. Doubles their work.
  bool undirected = false;
  /// Limits that protect a server's memory: an event with more hits (of the configured
  /// volumes) or more radius-graph edges fails with the reason instead of running. 0: none.
  std::int64_t maxHits = 0;
  std::int64_t maxGraphEdges = 0;
  TrackBuilder::Config tracks;
  /// Threads for torch and for graph building together (one knob, so that ranks sharing
  /// a node can split its cores).
  int threads = 1;
};

/// How the pipeline makes its tracks, in words, for the reports' selection line: e.g. "edges
/// with GNN score > 0.7, split into paths by walk, grown at their ends along edges > 0.1;
/// tracks of >= 6 hits".
std::string describeTracks(const PipelineConfig& config);

/// The stages of the chain, in order; stageName() gives the names every report uses.
enum class Stage { kFeatures, kEmbedding, kGraph, kFilter, kGnn, kTracks };
inline constexpr std::size_t kNumStages = 6;
inline constexpr std::array<Stage, kNumStages> kStages = {Stage::kFeatures, Stage::kEmbedding,
                                                          Stage::kGraph,    Stage::kFilter,
                                                          Stage::kGnn,      Stage::kTracks};
/// "features", "embedding", "graph", "filter", "gnn", "tracks".
const char* stageName(Stage stage);

/// Where one event's time went, and how much of the graph each stage kept.
struct StageRecord {
  /// Milliseconds per stage, indexed by Stage (ms[Stage::kGraph], ...).
  struct Times {
    std::array<double, kNumStages> value{};
    double& operator[](Stage s) { return value[static_cast<std::size_t>(s)]; }
    double operator[](Stage s) const { return value[static_cast<std::size_t>(s)]; }
  } ms;
  std::int64_t hits = 0, graphEdges = 0, filterEdges = 0, gnnEdges = 0, tracks = 0;
  double totalMs() const {
    double sum = 0;
    for (double v : ms.value) sum += v;
    return sum;
  }
};

/// The edges after each stage (for truth metrics of the edges).
struct StageEdges {
  EdgeList graph, filter, gnn;
};

struct PipelineResult {
  Tracks tracks;  ///< hit ids of the event and one label per hit
  StageRecord record;
  /// Edges after each stage (when ExecutionOptions::stageEdges); their ends index `rows`
  /// (the hits of the configured volumes), or all hits in order when `rows` is empty.
  StageEdges edges;
  std::vector<std::int64_t> rows;
};

/// Where and how a pipeline runs.
struct ExecutionOptions {
  /// Arithmetic of the models: float32, or half types (models converted; features stay
  /// float32 where the model takes them, and the embedding and the logits are turned back
  /// into float32 before the radius graph and the cuts).
  enum Precision { kFloat32, kFloat16, kBFloat16 };
  /// -1: the CPU; >= 0: that CUDA device (as CUDA counts them, within
  /// CUDA_VISIBLE_DEVICES).
  int device = -1;
  Precision precision = kFloat32;
  /// The filter scores at most this many edges per model call (>= 0; 0: the pipeline's
  /// filterChunk on the CPU, kGpuEdgeChunk or filterChunk, the larger, on a GPU).
  std::int64_t edgeChunk = 0;
  /// A GPU's default chunk: far larger than the CPU's.
  static constexpr std::int64_t kGpuEdgeChunk = 1 << 21;
  /// Copy each stage's edges into PipelineResult::edges (for edge metrics). Off in servers:
  /// on a GPU the edges then never leave the device, only their counts.
  bool stageEdges = true;
};

/// "float32", "float16" or "bfloat16".
std::string toString(ExecutionOptions::Precision precision);
/// "cpu" or "cuda:N".
std::string deviceName(const ExecutionOptions& options);

/// The bfloat16 matrix units of this CPU, from the kernel's flags (/proc/cpuinfo): "AMX"
/// (amx_bf16), "AVX-512 BF16" (avx512_bf16), or "" when it has neither (oneDNN then converts
/// to float32 in software: slower than plain float32).
std::string cpuBFloat16Units();

/// The precision a pipeline on the CPU runs in when `requested` was asked for, and in
/// `words` what the layout line says of it: float32 stays; bfloat16 runs in bfloat16, naming
/// the CPU's units or warning that it is emulated; float16 (for GPUs) runs in float32 and
/// says so.
ExecutionOptions::Precision cpuPrecision(ExecutionOptions::Precision requested, std::string& words);

/// The three TorchScript models of a PipelineConfig on one device, in one precision: loaded
/// and probed there once, then read by any number of Pipeline instances at the same time
/// (inference does not change a module; forward() may run on several threads).
class PipelineModels {
 public:
  /// Loads each model onto the options' device, converts it to the precision and checks its
  /// contract there with a probe (trkaas/pipeline/TorchModel.hpp). Throws trkaas::Error
  /// naming the model, its file and the device; for a CUDA device in a build without CUDA
  /// libtorch, or where none is visible, saying so.
  static std::shared_ptr<const PipelineModels> load(const PipelineConfig& config,
                                                    const ExecutionOptions& options);
  ~PipelineModels();
  PipelineModels(const PipelineModels&) = delete;
  PipelineModels& operator=(const PipelineModels&) = delete;

  /// The options the models were loaded with (device, precision).
  const ExecutionOptions& options() const;
  /// Output dimension D of the embedding.
  std::int64_t embeddingDim() const;

  struct Impl;
  const Impl& impl() const { return *m_impl; }

 private:
  explicit PipelineModels(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> m_impl;
};

class Pipeline {
 public:
  /// Validates the config and the options; loads the models when `models` is null (else
  /// they must have been loaded from the files `config` names, on the options' device and
  /// precision). On CUDA takes a stream from torch's pool (32 per device, round robin:
  /// more instances share streams, correct but serialised). Throws trkaas::Error.
  explicit Pipeline(PipelineConfig config, ExecutionOptions options = {},
                    std::shared_ptr<const PipelineModels> models = nullptr);
  ~Pipeline();
  Pipeline(Pipeline&&) noexcept;
  Pipeline& operator=(Pipeline&&) noexcept;

  /// Tracks for every hit of the event (hits outside the configured volumes: -1). The
  /// stage edges index the hits the models saw. `source` names the input in errors. Uses
  /// this instance's buffers and stream: one thread at a time per instance.
  ///
  /// Stage times: the host clock around each stage; on CUDA each stage ends with a
  /// synchronisation of the instance's stream, so a time is the stage's device work plus
  /// its launches. Features include the copy in; tracks the copy out and the labels.
  ///
  /// Errors: trkaas::InputError for an input problem of an event (missing cells, the
  /// limits); any other failure (torch, CUDA) becomes trkaas::Error naming the device and
  /// the stage, e.g. "pipeline (cuda:0), stage filter: ...".
  PipelineResult run(const Event& event, const std::string& source = "event");
  /// Several (small) events as one graph, their disjoint union: one model call per stage
  /// for all of them (filter: per edge chunk), a radius graph per event (no edge joins two
  /// events), one track-building pass. Each result is the one run() gives for its event;
  /// the batch's stage times are shared out by hits. An event over a limit fails the whole
  /// call (run the events alone to find it).
  std::vector<PipelineResult> runBatch(const std::vector<const Event*>& events,
                                       const std::string& source = "batch");
  const PipelineConfig& config() const;
  const ExecutionOptions& options() const;
  /// The shared models this instance runs.
  const std::shared_ptr<const PipelineModels>& models() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

/// Whether a pipeline can run on a CUDA device here: this build has CUDA libtorch and the
/// CUDA kernels, and libtorch sees at least one CUDA device. When not, `why` says which is
/// missing. Never throws.
bool gpuPipelineAvailable(std::string& why);

/// Whether this build has the CUDA stages (CUDA libtorch and the CUDA kernels), whether or
/// not a GPU is present. Never throws.
bool gpuPipelineBuilt();

}  // namespace trkaas
