/// The one pipeline: PipelineModels (loaded once per device and precision) and Pipeline
/// (one instance per worker) chaining the stages of Stages.hpp on CPU or CUDA tensors.
#include "trkaas/pipeline/Pipeline.hpp"

#include <c10/core/StreamGuard.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>
#include <utility>

#include "PipelineCommon.hpp"
#include "ScriptModel.hpp"
#include "Stages.hpp"
#include "TorchGraphOps.hpp"
#include "trkaas/core/Error.hpp"
#include "trkaas/pipeline/TorchModel.hpp"

namespace trkaas {

namespace {

using Clock = std::chrono::steady_clock;

double msSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

c10::ScalarType scalarType(ExecutionOptions::Precision precision) {
  switch (precision) {
    case ExecutionOptions::kFloat16:
      return torch::kFloat16;
    case ExecutionOptions::kBFloat16:
      return torch::kBFloat16;
    case ExecutionOptions::kFloat32:
      break;
  }
  return torch::kFloat32;
}

torch::Device torchDevice(const ExecutionOptions& o) {
  return o.device < 0 ? torch::Device(torch::kCPU)
                      : torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(o.device));
}

/// Runs `body`, turning any failure but an input error into trkaas::Error naming `where`
/// (pipeline and device) and the stage; input errors (limits, missing cells) pass as they
/// are.
template <class Body>
auto inStage(const std::string& where, Stage stage, Body&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const InputError&) {
    throw;
  } catch (const std::exception& e) {
    throw Error(where + ", stage " + stageName(stage) + ": " + detail::torchErrorReason(e.what()));
  }
}

/// A host buffer of at least `count` elements of `type` (pinned for a CUDA pipeline),
/// grown (never shrunk) and reused from call to call.
torch::Tensor hostBuffer(torch::Tensor& buffer, std::int64_t count, c10::ScalarType type,
                         bool pinned) {
  if (!buffer.defined() || buffer.numel() < count) {
    const std::int64_t old = buffer.defined() ? buffer.numel() : 0;
    buffer = torch::empty({std::max<std::int64_t>({count, 2 * old, 4096})},
                          torch::TensorOptions().dtype(type).pinned_memory(pinned));
  }
  return buffer.narrow(0, 0, count);
}

/// Host columns of edges [2, E] (any device), shifted by -offset.
EdgeList toEdgeList(const torch::Tensor& edges, std::int64_t offset) {
  const torch::Tensor host = (offset != 0 ? edges - offset : edges).cpu().contiguous();
  const std::int64_t e = host.size(1);
  const std::int64_t* p = host.data_ptr<std::int64_t>();
  EdgeList out;
  out.src.assign(p, p + e);
  out.dst.assign(p + e, p + 2 * e);
  return out;
}

}  // namespace

const char* stageName(Stage stage) {
  static constexpr std::array<const char*, kNumStages> kNames = {"features", "embedding", "graph",
                                                                 "filter",   "gnn",       "tracks"};
  return kNames[static_cast<std::size_t>(stage)];
}

std::string toString(ExecutionOptions::Precision precision) {
  static constexpr std::array<const char*, 3> kNames = {"float32", "float16", "bfloat16"};
  return kNames[static_cast<std::size_t>(precision)];
}

std::string deviceName(const ExecutionOptions& options) {
  return options.device < 0 ? "cpu" : "cuda:" + std::to_string(options.device);
}

std::string cpuBFloat16Units() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    std::istringstream words(line.substr(line.find(':') + 1));
    bool amx = false, avx512 = false;
    for (std::string flag; words >> flag;) {
      amx = amx || flag == "amx_bf16";
      avx512 = avx512 || flag == "avx512_bf16";
    }
    return amx ? "AMX" : avx512 ? "AVX-512 BF16" : "";
  }
  return "";
}

ExecutionOptions::Precision cpuPrecision(ExecutionOptions::Precision requested,
                                         std::string& words) {
  switch (requested) {
    case ExecutionOptions::kFloat32:
      words = "float32";
      return requested;
    case ExecutionOptions::kFloat16:
      words = "float32: float16 is for GPUs, a CPU runs float32 or bfloat16";
      return ExecutionOptions::kFloat32;
    case ExecutionOptions::kBFloat16: {
      const std::string units = cpuBFloat16Units();
      words = units.empty() ? "bfloat16, emulated: this CPU has neither AMX nor AVX-512 BF16, "
                              "expect it slower than float32"
                            : "bfloat16 on " + units;
      return requested;
    }
  }
  return requested;
}

// ---- PipelineModels --------------------------------------------------------------------

struct PipelineModels::Impl {
  ExecutionOptions options;
  std::int64_t numFeatures = 0;
  std::unique_ptr<detail::ScriptModel> embedding, filter, gnn;
};

PipelineModels::PipelineModels(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
PipelineModels::~PipelineModels() = default;
const ExecutionOptions& PipelineModels::options() const { return m_impl->options; }
std::int64_t PipelineModels::embeddingDim() const { return m_impl->embedding->outputDim(); }

std::shared_ptr<const PipelineModels> PipelineModels::load(const PipelineConfig& config,
                                                           const ExecutionOptions& options) {
  auto d = std::make_unique<Impl>();
  d->options = options;
  d->numFeatures = FeatureBuilder(config.features).numFeatures();
  const torch::Device device = torchDevice(options);
  const c10::ScalarType type = scalarType(options.precision);
  std::optional<c10::StreamGuard> guard;
  if (device.is_cuda()) {
    std::string why;
    if (!gpuPipelineAvailable(why)) throw Error("models on " + deviceName(options) + ": " + why);
    const int count = detail::cudaDeviceCount();
    if (options.device >= count) {
      throw Error("models: device " + std::to_string(options.device) + " does not exist (" +
                  std::to_string(count) + " CUDA device(s) visible)");
    }
    // Loading and probing run on a stream of the pool, then the device is synchronised:
    // the workers' streams do not wait for the legacy default stream.
    guard.emplace(detail::cudaPoolStream(options.device));
  }
  const auto load = [&](const std::string& path, ModelKind kind, const char* name) {
    return std::make_unique<detail::ScriptModel>(path, kind, d->numFeatures, name, device, type);
  };
  d->embedding = load(config.embeddingModel, ModelKind::kEmbedding, "embedding");
  d->filter = load(config.filterModel, ModelKind::kEdgeClassifier, "filter");
  d->gnn = load(config.gnnModel, ModelKind::kEdgeClassifier, "gnn");
  if (guard) {
    try {
      guard->current_stream().synchronize();
    } catch (const std::exception& e) {
      throw Error("models on " + deviceName(options) + ": " + detail::torchErrorReason(e.what()));
    }
  }
  return std::shared_ptr<const PipelineModels>(new PipelineModels(std::move(d)));
}

// ---- Pipeline --------------------------------------------------------------------------

struct Pipeline::Impl {
  PipelineConfig config;
  ExecutionOptions options;
  std::shared_ptr<const PipelineModels> models;
  std::string where;
  detail::ExecutionContext ctx;
  FeatureBuilder features;
  detail::NodeEmbedding embedding;
  std::unique_ptr<detail::GraphConstruction> graph;
  std::unique_ptr<detail::EdgeClassification> filter, gnn;
  std::unique_ptr<detail::TrackBuilding> tracks;
  /// Host memory, reused (pinned on CUDA): features (and x, y, z) in, labels out.
  torch::Tensor hostIn, hostLabels;

  static const PipelineConfig& checked(const PipelineConfig& c, const ExecutionOptions& o) {
    detail::checkPipelineConfig(c);
    if (o.edgeChunk < 0) throw Error("pipeline: edgeChunk must be >= 0 (0: the default)");
    if (o.device < -1) throw Error("pipeline: device must be -1 (CPU) or a CUDA index");
    return c;
  }

  static std::shared_ptr<const PipelineModels> modelsFor(
      const PipelineConfig& c, const ExecutionOptions& o,
      std::shared_ptr<const PipelineModels> given) {
    if (!given) return PipelineModels::load(c, o);
    const ExecutionOptions& m = given->options();
    if (o.device != m.device || o.precision != m.precision) {
      throw Error("pipeline: options ask for " + deviceName(o) + " in " + toString(o.precision) +
                  ", but the models were loaded on " + deviceName(m) + " in " +
                  toString(m.precision));
    }
    return given;
  }

  static detail::ExecutionContext context(const PipelineConfig& c, const ExecutionOptions& o) {
    detail::ExecutionContext ctx;
    ctx.device = torchDevice(o);
    ctx.threads = c.threads;
    if (ctx.onCuda()) {
      try {
        ctx.stream = detail::cudaPoolStream(o.device);
      } catch (const std::exception& e) {
        throw Error("pipeline (" + deviceName(o) +
                    "): no stream: " + detail::torchErrorReason(e.what()));
      }
    }
    return ctx;
  }

  static std::int64_t filterChunk(const PipelineConfig& c, const ExecutionOptions& o) {
    if (o.edgeChunk > 0) return o.edgeChunk;
    return o.device >= 0 ? std::max(c.filterChunk, ExecutionOptions::kGpuEdgeChunk) : c.filterChunk;
  }

  static GraphBuilder::Config graphConfig(const PipelineConfig& c) {
    GraphBuilder::Config g = c.graph;
    g.threads = c.threads;
    return g;
  }

  Impl(const PipelineConfig& c, const ExecutionOptions& o, std::shared_ptr<const PipelineModels> m)
      : config(checked(c, o)),
        options(o),
        models(modelsFor(c, o, std::move(m))),
        where("pipeline (" + deviceName(o) + ")"),
        ctx(context(c, o)),
        features(c.features),
        embedding(*models->impl().embedding, o.device >= 0 ? 0 : c.embeddingChunk),
        graph(std::make_unique<detail::RadiusGraphStage>(graphConfig(c), ctx)),
        filter(std::make_unique<detail::TorchScriptClassifier>(*models->impl().filter, c.filterCut,
                                                               filterChunk(c, o), c.undirected)),
        // With an extension cut the GNN keeps the edges above it; the track stage splits them.
        gnn(std::make_unique<detail::TorchScriptClassifier>(
            *models->impl().gnn, c.extendCut > 0.0f ? c.extendCut : c.gnnCut, 0, c.undirected)),
        tracks(std::make_unique<detail::ComponentsStage>(c.tracks, c.extendCut > 0.0f)) {
    if (features.numFeatures() != models->impl().numFeatures) {
      throw Error(where + ": the features give " + std::to_string(features.numFeatures()) +
                  " per hit, the models were loaded for " +
                  std::to_string(models->impl().numFeatures));
    }
    setTorchThreads(c.threads);
  }
};

Pipeline::Pipeline(PipelineConfig config, ExecutionOptions options,
                   std::shared_ptr<const PipelineModels> models)
    : m_impl(std::make_unique<Impl>(config, options, std::move(models))) {}
Pipeline::~Pipeline() = default;
Pipeline::Pipeline(Pipeline&&) noexcept = default;
Pipeline& Pipeline::operator=(Pipeline&&) noexcept = default;
const PipelineConfig& Pipeline::config() const { return m_impl->config; }
const ExecutionOptions& Pipeline::options() const { return m_impl->options; }
const std::shared_ptr<const PipelineModels>& Pipeline::models() const { return m_impl->models; }

PipelineResult Pipeline::run(const Event& event, const std::string& source) {
  std::vector<PipelineResult> results = runBatch({&event}, source);
  return std::move(results.front());
}

std::vector<PipelineResult> Pipeline::runBatch(const std::vector<const Event*>& events,
                                               const std::string& source) {
  Impl& d = *m_impl;
  const detail::ExecutionContext& ctx = d.ctx;
  useTorchThreadsInThisThread(d.config.threads);
  const std::size_t numEvents = events.size();
  std::vector<PipelineResult> results(numEvents);
  if (numEvents == 0) return results;

  // The selected hits of all events, one after the other (their disjoint union): event k
  // is the segment [first(k), first(k) + count(k)).
  const detail::BatchHits hits(events, d.config, results, source);
  const std::int64_t n = hits.numHits();
  std::vector<std::int64_t> first(numEvents), count(numEvents);
  for (std::size_t k = 0; k < numEvents; ++k) {
    first[k] = hits.first(k);
    count[k] = hits.count(k);
  }
  std::optional<c10::StreamGuard> streamGuard;
  if (ctx.stream) streamGuard.emplace(*ctx.stream);
  const torch::NoGradGuard noGrad;
  const bool positions = d.tracks->needsPositions();
  const std::int64_t f = d.features.numFeatures();
  const auto timed = [&](Stage stage, auto&& body) {
    const auto t0 = Clock::now();
    auto out = inStage(d.where, stage, [&] {
      auto value = body();
      ctx.synchronize();
      return value;
    });
    hits.record(results, stage, msSince(t0));
    return out;
  };
  // Edges per event of the union (its edges are sorted by source).
  const auto perEvent = [&](const torch::Tensor& edges) {
    return detail::edgesPerEvent(edges, first, n);
  };

  // Features on the host (FeatureBuilder), with x, y, z for junction removal, in one host
  // buffer, then (on CUDA) one asynchronous copy from pinned memory.
  torch::Tensor x, xyz;
  timed(Stage::kFeatures, [&] {
    // A failed call may have left a copy from the host buffer queued.
    ctx.synchronize();
    const std::vector<float> built = d.features.build(hits.merged(), source);
    const std::int64_t width = f + (positions ? 3 : 0);
    const torch::Tensor in = hostBuffer(d.hostIn, n * width, torch::kFloat32, ctx.onCuda());
    float* p = in.data_ptr<float>();
    std::copy(built.begin(), built.end(), p);
    if (positions) {
      const Hits& h = hits.merged().hits;
      float* q = p + n * f;
      for (std::size_t i = 0; i < h.size(); ++i) {
        q[3 * i] = h.x[i];
        q[3 * i + 1] = h.y[i];
        q[3 * i + 2] = h.z[i];
      }
    }
    const torch::Tensor all = ctx.onCuda() ? in.to(ctx.floats(), /*non_blocking=*/true) : in;
    x = all.narrow(0, 0, n * f).view({n, f});
    if (positions) xyz = all.narrow(0, n * f, 3 * n).view({n, 3});
    return 0;
  });

  const torch::Tensor embedded = timed(Stage::kEmbedding, [&] { return d.embedding.embed(x); });

  // The radius graph of each event on its own (no edge joins two events of a batch),
  // shifted to the event's segment.
  const torch::Tensor graph = timed(Stage::kGraph, [&] {
    std::vector<torch::Tensor> parts;
    for (std::size_t k = 0; k < numEvents; ++k) {
      const torch::Tensor edges = d.graph->build(embedded.narrow(0, first[k], count[k]), ctx);
      const std::int64_t e = edges.size(1);
      detail::checkGraphEdges(source, hits.original(k), e, d.config.maxGraphEdges);
      results[k].record.graphEdges = e;
      parts.push_back(first[k] == 0 ? edges : edges + first[k]);
    }
    return parts.size() == 1 ? parts.front() : torch::cat(parts, 1);
  });

  // Filter (in chunks of edges: its memory grows with the edges, not the hits).
  const torch::Tensor filtered = timed(Stage::kFilter, [&] {
    torch::Tensor out = d.filter->select(x, graph, ctx).first;
    const std::vector<std::int64_t> counts = perEvent(out);
    for (std::size_t k = 0; k < numEvents; ++k) results[k].record.filterEdges = counts[k];
    return out;
  });

  // The GNN over the whole filtered graph (one call); the kept edges' logits are the
  // scores of junction removal.
  torch::Tensor kept, keptScores, grow, growScores;
  timed(Stage::kGnn, [&] {
    std::tie(kept, keptScores) = d.gnn->select(x, filtered, ctx);
    if (d.config.extendCut > 0.0f) {
      // The edges above the extension cut; those above the GNN cut make the tracks.
      grow = kept;
      growScores = keptScores;
      std::tie(kept, keptScores) =
          detail::keepAbove(grow, growScores, detail::logitCut(d.config.gnnCut));
    }
    const std::vector<std::int64_t> counts = perEvent(kept);
    for (std::size_t k = 0; k < numEvents; ++k) results[k].record.gnnEdges = counts[k];
    return 0;
  });

  // Tracks of the whole union, one copy out. Components are numbered in the order of their
  // lowest hit over the union; no edge joins two events, so event k's tracks follow those
  // of the earlier events: subtracting their track count gives its labels alone.
  timed(Stage::kTracks, [&] {
    const torch::Tensor labels = d.tracks->labels(n, kept, keptScores, xyz, ctx, grow, growScores);
    torch::Tensor host = labels;
    if (ctx.onCuda()) {
      host = hostBuffer(d.hostLabels, n, torch::kInt64, true);
      host.copy_(labels, /*non_blocking=*/true);
      ctx.synchronize();
    }
    std::vector<std::vector<std::int64_t>> own =
        detail::splitUnionLabels(host.data_ptr<std::int64_t>(), first, count);
    for (std::size_t k = 0; k < numEvents; ++k) {
      detail::setTracks(results[k], hits.original(k), std::move(own[k]), d.config.volumes);
    }
    return 0;
  });

  if (d.options.stageEdges) {
    // Each event's edges after each stage (all sorted by source: segments of the union,
    // whose lengths the stage records already hold).
    const auto split = [&](const torch::Tensor& edges, EdgeList StageEdges::*field,
                           std::int64_t StageRecord::*count) {
      std::int64_t begin = 0;
      for (std::size_t k = 0; k < numEvents; ++k) {
        const std::int64_t e = results[k].record.*count;
        results[k].edges.*field = toEdgeList(edges.narrow(1, begin, e), first[k]);
        begin += e;
      }
    };
    split(graph, &StageEdges::graph, &StageRecord::graphEdges);
    split(filtered, &StageEdges::filter, &StageRecord::filterEdges);
    split(kept, &StageEdges::gnn, &StageRecord::gnnEdges);
  }
  return results;
}

}  // namespace trkaas
