#pragma once
/// The inference chain of Pipeline on one CUDA device: features on the host, then
/// embedding, radius graph (device::GridRadiusGraph), filter, GNN, junction removal and
/// connected components (device::ConnectedComponents) on the device, with one copy in and
/// one copy out per call.
///
/// Model-wide state apart from per-instance state (STYLE rule 9): a server rank loads the
/// three models once per GPU into a GpuModels and shares it (std::shared_ptr<const
/// GpuModels>) with every worker; each worker thread owns one GpuPipeline, which owns
///   - a CUDA stream from torch's stream pool (current, through a stream guard, for all its
///     work; the pool hands out 32 streams per device round robin, so more than 32
///     instances on one device share streams, which is correct but serialises them);
///   - pinned host buffers, grown on demand and reused, for the hit features in and the
///     labels out.
/// Device memory comes from torch's caching allocator (one per device, shared by all
/// instances; a block freed on one stream is reused only on that stream, so the workers'
/// memory stays apart without locks), and, for the scratch arrays of the two CUDA stages,
/// from the CUDA stream-ordered pool (cudaMallocAsync). A call to run() leaves nothing
/// allocated but the cached blocks.
///
/// Builds without a CUDA libtorch compile a stand-in whose constructors throw
/// trkaas::Error saying so; gpuPipelineAvailable() tells callers in advance (STYLE rule 6).
/// No torch or CUDA types appear here (pImpl).

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "trkaas/core/Event.hpp"
#include "trkaas/pipeline/Pipeline.hpp"

namespace trkaas {

/// Where and how the GPU pipeline runs.
struct GpuOptions {
  /// Arithmetic of the models: float32, or half types (models and features converted; the
  /// embedding and the logits are turned back into float32 before the radius graph and
  /// the cuts).
  enum Precision { kFloat32, kFloat16, kBFloat16 };
  /// CUDA device index (as CUDA counts them: within CUDA_VISIBLE_DEVICES).
  int device = 0;
  Precision precision = kFloat32;
  /// The filter scores at most this many edges per model call (>= 0; 0: the pipeline's
  /// filterChunk). A GPU takes far larger chunks than the CPU default.
  std::int64_t edgeChunk = 0;
};

/// "float32", "float16" or "bfloat16".
std::string toString(GpuOptions::Precision precision);

/// The three TorchScript models of a PipelineConfig on one device, in the chosen precision:
/// loaded once, then read by any number of GpuPipeline instances at the same time (model
/// inference does not change a module; forward() of one module may run on several threads).
class GpuModels {
 public:
  /// Checks each model's contract on the CPU (as Pipeline does, TorchModel), then loads it
  /// onto the device, converts it to the precision and probes it there. Throws
  /// trkaas::Error naming the model, its file and the device; in a build without CUDA
  /// libtorch, always.
  GpuModels(const PipelineConfig& config, const GpuOptions& options);
  ~GpuModels();
  GpuModels(const GpuModels&) = delete;
  GpuModels& operator=(const GpuModels&) = delete;

  /// The options the models were loaded with (device, precision).
  const GpuOptions& options() const;
  /// Output dimension D of the embedding.
  std::int64_t embeddingDim() const;

 private:
  friend class GpuPipeline;
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

/// Loads the models of `config` once (for sharing among the workers of a device).
std::shared_ptr<const GpuModels> loadGpuModels(const PipelineConfig& config,
                                               const GpuOptions& options);

class GpuPipeline {
 public:
  /// Validates the config as Pipeline does and the options (the device must be the one the
  /// models were loaded on, edgeChunk >= 0). The model files named in `config` are not
  /// read again: `models` must have been loaded from them. Takes a stream from the pool.
  /// Throws trkaas::Error; in a build without CUDA libtorch, always.
  GpuPipeline(PipelineConfig config, GpuOptions options, std::shared_ptr<const GpuModels> models);
  ~GpuPipeline();
  GpuPipeline(GpuPipeline&&) noexcept;
  GpuPipeline& operator=(GpuPipeline&&) noexcept;

  /// As Pipeline::run: tracks for every hit of the event (hits outside the configured
  /// volumes: -1), `rows` as Pipeline fills them, the stage records with their edge counts.
  /// Unlike Pipeline, result.edges stays EMPTY: the edges never leave the device (only the
  /// counts in result.record). Not const: it uses this instance's stream and buffers, so
  /// one thread at a time per instance (one instance per worker thread).
  ///
  /// Stage times: the host clock around each stage, the stage ending with a
  /// synchronisation of the instance's stream, so each time is the stage's work on the
  /// device plus its launches (the graph, the cuts and the components synchronise anyway
  /// to learn their sizes). featuresMs includes the copy in; tracksMs junction removal,
  /// the components, the copy out and the mapping of labels to hits.
  ///
  /// Errors: trkaas::InputError for an input problem of an event (as Pipeline: missing
  /// cells, the limits); any other failure (CUDA, torch) becomes trkaas::Error naming the
  /// stage and the device, e.g. "gpu pipeline (cuda:0), stage filter: ...".
  PipelineResult run(const Event& event, const std::string& source = "event");
  /// As Pipeline::runBatch: the events as one disjoint union, one model call per stage
  /// (filter: per edge chunk), one radius graph per event, one connected-components pass
  /// for all (no edge joins two events, so each event gets the labels it gets alone).
  std::vector<PipelineResult> runBatch(const std::vector<const Event*>& events,
                                       const std::string& source = "batch");

  const PipelineConfig& config() const;
  const GpuOptions& options() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

/// Whether GpuPipeline can run here: this build has CUDA libtorch and the CUDA kernels, and
/// libtorch sees at least one CUDA device. When not, `why` says which is missing. Never
/// throws.
bool gpuPipelineAvailable(std::string& why);

/// Whether this build has the GPU pipeline (CUDA libtorch and the CUDA kernels), whether or
/// not a GPU is present. Never throws.
bool gpuPipelineBuilt();

}  // namespace trkaas
