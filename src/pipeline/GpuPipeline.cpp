/// GpuPipeline and GpuModels with CUDA libtorch and the device module's CUDA launchers.
/// Every step after the features stays on the device, in the order of the worker's stream;
/// see include/trkaas/pipeline/GpuPipeline.hpp and src/pipeline/README.md.
#include "trkaas/pipeline/GpuPipeline.hpp"

#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/cuda.h>
#include <torch/script.h>

#include <algorithm>
#include <chrono>
#include <sstream>
#include <tuple>
#include <utility>

#include "PipelineCommon.hpp"
#include "TorchGraphOps.hpp"
#include "trkaas/core/Error.hpp"
#include "trkaas/device/ConnectedComponents.hpp"
#include "trkaas/device/Device.hpp"
#include "trkaas/device/GridRadiusGraph.hpp"
#include "trkaas/pipeline/FeatureBuilder.hpp"
#include "trkaas/pipeline/TorchModel.hpp"

namespace trkaas {

namespace {

using Clock = std::chrono::steady_clock;

double msSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

c10::ScalarType scalarType(GpuOptions::Precision precision) {
  switch (precision) {
    case GpuOptions::kFloat16:
      return torch::kFloat16;
    case GpuOptions::kBFloat16:
      return torch::kBFloat16;
    case GpuOptions::kFloat32:
      break;
  }
  return torch::kFloat32;
}

std::string deviceName(int device) { return "cuda:" + std::to_string(device); }

std::string shapeOf(const torch::Tensor& t) {
  std::ostringstream s;
  s << t.sizes() << " " << t.dtype();
  return s.str();
}

/// Runs `body`, turning any failure but an input error into trkaas::Error naming `where`
/// (pipeline and device) and the stage; input errors (limits, missing cells) pass as they
/// are, like Pipeline's.
template <class Body>
auto inStage(const std::string& where, const char* stage, Body&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const InputError&) {
    throw;
  } catch (const std::exception& e) {
    throw Error(where + ", stage " + stage + ": " + detail::torchErrorReason(e.what()));
  }
}

/// A pinned host buffer of at least `count` elements of `type`, grown (never shrunk) and
/// reused from call to call.
torch::Tensor hostBuffer(torch::Tensor& buffer, std::int64_t count, c10::ScalarType type) {
  if (!buffer.defined() || buffer.numel() < count) {
    const std::int64_t old = buffer.defined() ? buffer.numel() : 0;
    buffer = torch::empty({std::max<std::int64_t>({count, 2 * old, 4096})},
                          torch::TensorOptions().dtype(type).pinned_memory(true));
  }
  return buffer.narrow(0, 0, count);
}

}  // namespace

// ---- GpuModels -------------------------------------------------------------------------

struct GpuModels::Impl {
  GpuOptions options;
  torch::Device device{torch::kCUDA, 0};
  c10::ScalarType type = torch::kFloat32;
  std::int64_t numFeatures = 0;
  std::int64_t embeddingDim = 0;
  // forward() is not const in the torch API; inference does not change the modules.
  mutable torch::jit::Module embedding, filter, gnn;
  /// Per model: true where it takes float32 features even when its weights are in half
  /// precision (it casts them itself, as the shipped models do, after computing its
  /// geometry in float32). Otherwise the features are rounded to the weights' type first:
  /// fp16 keeps phi to ~1.5 mrad, more than a 1 GeV track's sagitta between pixel layers.
  bool embeddingFloatIn = true, filterFloatIn = true, gnnFloatIn = true;

  std::string where() const {
    return deviceName(options.device) + " in " + toString(options.precision);
  }

  /// Checks the contract on the CPU (TorchModel, as Pipeline loads it), then loads the
  /// model onto the device, converts it and probes it there.
  torch::jit::Module load(const std::string& path, ModelKind kind, const std::string& name,
                          bool& floatIn) {
    TorchModel::Config c;
    c.path = path;
    c.kind = kind;
    c.numFeatures = numFeatures;
    c.name = name;
    const TorchModel checked(c);
    if (kind == ModelKind::kEmbedding) embeddingDim = checked.outputDim();
    const std::string who = "model '" + name + "' (" + path + ") on " + where();
    torch::jit::Module module;
    try {
      module = torch::jit::load(path, device);
      module.eval();
      if (type != torch::kFloat32) module.to(type);
      // Float32 features if the model takes them, else (half precision only) features in
      // its own type.
      floatIn = true;
      try {
        probe(module, kind, torch::kFloat32);
      } catch (const std::exception&) {
        if (type == torch::kFloat32) throw;
        floatIn = false;
        probe(module, kind, type);
      }
    } catch (const std::exception& e) {
      throw Error(who + ": " + detail::torchErrorReason(e.what()));
    }
    return module;
  }

  /// The TorchModel probe (3 hits, 2 edges) on the device, features in `input`.
  void probe(torch::jit::Module& module, ModelKind kind, c10::ScalarType input) const {
    torch::NoGradGuard noGrad;
    const auto on = torch::TensorOptions().device(device);
    const torch::Tensor x =
        (torch::arange(3 * numFeatures, on.dtype(torch::kFloat32)).remainder(7) * 0.1 - 0.2)
            .reshape({3, numFeatures})
            .to(input);
    std::vector<torch::jit::IValue> args{x};
    if (kind == ModelKind::kEdgeClassifier) {
      args.emplace_back(
          torch::tensor(std::vector<std::int64_t>{0, 1, 1, 2}, on.dtype(torch::kInt64))
              .reshape({2, 2}));
    }
    const torch::jit::IValue out = module.forward(args);
    if (!out.isTensor()) throw Error("forward must return one tensor, got " + out.tagKind());
    const torch::Tensor t = out.toTensor();
    const bool ok = kind == ModelKind::kEmbedding
                        ? t.dim() == 2 && t.size(0) == 3 && t.size(1) == embeddingDim
                        : t.numel() == 2 && (t.dim() == 1 || (t.dim() == 2 && t.size(1) == 1));
    if (!ok) throw Error("probe output on the device has the wrong shape: " + shapeOf(t));
  }
};

GpuModels::GpuModels(const PipelineConfig& config, const GpuOptions& options)
    : m_impl(std::make_unique<Impl>()) {
  Impl& d = *m_impl;
  d.options = options;
  d.type = scalarType(options.precision);
  std::string why;
  if (!gpuPipelineAvailable(why)) throw Error("gpu models: " + why);
  const auto count = static_cast<int>(torch::cuda::device_count());
  if (options.device < 0 || options.device >= count) {
    throw Error("gpu models: device " + std::to_string(options.device) + " does not exist (" +
                std::to_string(count) + " CUDA device(s) visible)");
  }
  d.device = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(options.device));
  d.numFeatures = FeatureBuilder(config.features).numFeatures();
  {
    // Loading and probing run on a stream of the pool, then the device is synchronised:
    // the workers' streams do not wait for the legacy default stream.
    const c10::cuda::CUDAStreamGuard guard(
        c10::cuda::getStreamFromPool(false, static_cast<c10::DeviceIndex>(options.device)));
    d.embedding =
        d.load(config.embeddingModel, ModelKind::kEmbedding, "embedding", d.embeddingFloatIn);
    d.filter = d.load(config.filterModel, ModelKind::kEdgeClassifier, "filter", d.filterFloatIn);
    d.gnn = d.load(config.gnnModel, ModelKind::kEdgeClassifier, "gnn", d.gnnFloatIn);
  }
  try {
    torch::cuda::synchronize(options.device);
  } catch (const std::exception& e) {
    throw Error("gpu models on " + d.where() + ": " + detail::torchErrorReason(e.what()));
  }
}

GpuModels::~GpuModels() = default;

const GpuOptions& GpuModels::options() const { return m_impl->options; }
std::int64_t GpuModels::embeddingDim() const { return m_impl->embeddingDim; }

// ---- GpuPipeline -----------------------------------------------------------------------

struct GpuPipeline::Impl {
  PipelineConfig config;
  GpuOptions options;
  std::shared_ptr<const GpuModels> models;
  FeatureBuilder features;
  device::GridRadiusGraph graph;
  device::ConnectedComponents components;
  std::int64_t edgeChunk;
  std::string where;
  c10::cuda::CUDAStream stream;
  /// Pinned host memory, reused: features (and x, y, z) in, labels out.
  torch::Tensor pinnedIn, pinnedLabels;

  static const PipelineConfig& checked(const PipelineConfig& c, const GpuOptions& o,
                                       const std::shared_ptr<const GpuModels>& models) {
    detail::checkPipelineConfig(c);
    if (!models) throw Error("gpu pipeline: no models given");
    const GpuOptions& m = models->options();
    if (o.device != m.device || o.precision != m.precision) {
      throw Error("gpu pipeline: options ask for " + deviceName(o.device) + " in " +
                  toString(o.precision) + ", but the models were loaded on " +
                  deviceName(m.device) + " in " + toString(m.precision));
    }
    if (o.edgeChunk < 0) throw Error("gpu pipeline: edgeChunk must be >= 0 (0: filterChunk)");
    return c;
  }

  static device::GridRadiusGraph::Config graphConfig(const PipelineConfig& c) {
    device::GridRadiusGraph::Config g;
    g.radius = c.graph.radius;
    g.maxNeighbours = c.graph.maxNeighbours;
    g.gridDims = c.graph.gridDims;
    return g;
  }

  static device::ConnectedComponents::Config componentsConfig(const PipelineConfig& c) {
    device::ConnectedComponents::Config cc;
    cc.minTrackSize = c.tracks.minTrackSize;
    cc.junctionRemoval = c.tracks.junctionRemoval;
    return cc;
  }

  static c10::cuda::CUDAStream poolStream(int device) {
    try {
      return c10::cuda::getStreamFromPool(false, static_cast<c10::DeviceIndex>(device));
    } catch (const std::exception& e) {
      throw Error("gpu pipeline (" + deviceName(device) +
                  "): no stream: " + detail::torchErrorReason(e.what()));
    }
  }

  Impl(const PipelineConfig& c, const GpuOptions& o, std::shared_ptr<const GpuModels> m)
      : config(checked(c, o, m)),
        options(o),
        models(std::move(m)),
        features(c.features),
        graph(graphConfig(c)),
        components(componentsConfig(c)),
        edgeChunk(o.edgeChunk > 0 ? o.edgeChunk : c.filterChunk),
        where("gpu pipeline (" + deviceName(o.device) + ")"),
        stream(poolStream(o.device)) {
    if (features.numFeatures() != models->m_impl->numFeatures) {
      throw Error(where + ": the features give " + std::to_string(features.numFeatures()) +
                  " per hit, the models were loaded for " +
                  std::to_string(models->m_impl->numFeatures));
    }
  }
};

GpuPipeline::GpuPipeline(PipelineConfig config, GpuOptions options,
                         std::shared_ptr<const GpuModels> models)
    : m_impl(std::make_unique<Impl>(config, options, std::move(models))) {}
GpuPipeline::~GpuPipeline() = default;
GpuPipeline::GpuPipeline(GpuPipeline&&) noexcept = default;
GpuPipeline& GpuPipeline::operator=(GpuPipeline&&) noexcept = default;
const PipelineConfig& GpuPipeline::config() const { return m_impl->config; }
const GpuOptions& GpuPipeline::options() const { return m_impl->options; }

PipelineResult GpuPipeline::run(const Event& event, const std::string& source) {
  std::vector<PipelineResult> results = runBatch({&event}, source);
  return std::move(results.front());
}

std::vector<PipelineResult> GpuPipeline::runBatch(const std::vector<const Event*>& events,
                                                  const std::string& source) {
  Impl& d = *m_impl;
  const GpuModels::Impl& m = *d.models->m_impl;
  const std::size_t numEvents = events.size();
  std::vector<PipelineResult> results(numEvents);
  if (numEvents == 0) return results;

  // The selected hits of all events, one after the other (their disjoint union), as in
  // Pipeline: event k is the segment [first(k), first(k) + count(k)).
  const detail::BatchHits hits(events, d.config, results, source);
  const std::int64_t n = hits.numHits();
  const auto record = [&](double StageRecord::*field, double ms) {
    hits.record(results, field, ms);
  };
  const c10::cuda::CUDAStreamGuard streamGuard(d.stream);
  const torch::NoGradGuard noGrad;
  const device::Stream stream{static_cast<void*>(d.stream.stream())};
  const auto floats = torch::TensorOptions().dtype(torch::kFloat32).device(m.device);
  const auto longs = torch::TensorOptions().dtype(torch::kInt64).device(m.device);
  const bool junctions = d.config.tracks.junctionRemoval;
  const std::int64_t f = m.numFeatures;

  // Edges per event of the union (its edges are sorted by source).
  std::vector<std::int64_t> starts(numEvents);
  for (std::size_t k = 0; k < numEvents; ++k) starts[k] = hits.first(k);
  const auto perEvent = [&](const torch::Tensor& edges) {
    return detail::edgesPerEvent(edges, starts, n);
  };

  // Features on the host (FeatureBuilder), with x, y, z for junction removal, into pinned
  // memory, then one asynchronous copy to the device.
  auto t0 = Clock::now();
  torch::Tensor x, xLow, xyz;  // float32 features; in the models' type where one needs it
  inStage(d.where, "features", [&] {
    // A failed call may have left a copy from the pinned buffers queued.
    d.stream.synchronize();
    const std::vector<float> built = d.features.build(hits.merged(), source);
    const std::int64_t width = f + (junctions ? 3 : 0);
    const torch::Tensor in = hostBuffer(d.pinnedIn, n * width, torch::kFloat32);
    float* p = in.data_ptr<float>();
    std::copy(built.begin(), built.end(), p);
    if (junctions) {
      const Hits& h = hits.merged().hits;
      float* q = p + n * f;
      for (std::size_t i = 0; i < h.size(); ++i) {
        q[3 * i] = h.x[i];
        q[3 * i + 1] = h.y[i];
        q[3 * i + 2] = h.z[i];
      }
    }
    const torch::Tensor all = in.to(floats, /*non_blocking=*/true);
    x = all.narrow(0, 0, n * f).view({n, f});
    if (!(m.embeddingFloatIn && m.filterFloatIn && m.gnnFloatIn)) xLow = x.to(m.type);
    if (junctions) xyz = all.narrow(0, n * f, 3 * n).view({n, 3});
    d.stream.synchronize();
  });
  record(&StageRecord::featuresMs, msSince(t0));

  t0 = Clock::now();
  const torch::Tensor embedded = inStage(d.where, "embedding", [&] {
    torch::Tensor out = m.embedding.forward({m.embeddingFloatIn ? x : xLow}).toTensor();
    if (out.dim() != 2 || out.size(0) != n || out.size(1) != m.embeddingDim) {
      throw Error("embedding output must be [" + std::to_string(n) + ", " +
                  std::to_string(m.embeddingDim) + "], got " + shapeOf(out));
    }
    out = out.to(torch::kFloat32).contiguous();
    d.stream.synchronize();
    return out;
  });
  record(&StageRecord::embeddingMs, msSince(t0));

  // The radius graph of each event on its own (no edge joins two events of a batch), each
  // written by the kernels into a [2, E] tensor, shifted to the event's segment.
  t0 = Clock::now();
  const torch::Tensor graph = inStage(d.where, "graph", [&] {
    const std::int64_t dim = embedded.size(1);
    const float* points = embedded.data_ptr<float>();
    std::vector<torch::Tensor> parts;
    for (std::size_t k = 0; k < numEvents; ++k) {
      torch::Tensor edges;
      const device::GridRadiusGraph::EdgeSink sink = [&](std::int64_t e) {
        edges = torch::empty({2, e}, longs);
        return edges.data_ptr<std::int64_t>();
      };
      const std::int64_t e =
          d.graph.runOnDevice(points + hits.first(k) * dim, hits.count(k), dim, sink, stream);
      detail::checkGraphEdges(source, hits.original(k), e, d.config.maxGraphEdges);
      results[k].record.graphEdges = e;
      if (!edges.defined()) edges = torch::empty({2, 0}, longs);
      parts.push_back(hits.first(k) == 0 ? edges : edges + hits.first(k));
    }
    torch::Tensor all = parts.size() == 1 ? parts.front() : torch::cat(parts, 1);
    d.stream.synchronize();
    return all;
  });
  record(&StageRecord::graphMs, msSince(t0));

  const auto classify = [&](torch::jit::Module& model, bool floatIn, const torch::Tensor& edges) {
    return detail::classifyEdgeTensor(model, floatIn ? x : xLow, edges, d.config.undirected);
  };

  // Filter in chunks of edges, the cut on the device.
  t0 = Clock::now();
  const torch::Tensor filtered = inStage(d.where, "filter", [&] {
    const std::int64_t total = graph.size(1);
    std::vector<torch::Tensor> parts;
    for (std::int64_t begin = 0; begin < total; begin += d.edgeChunk) {
      const std::int64_t size = std::min(d.edgeChunk, total - begin);
      parts.push_back(classify(m.filter, m.filterFloatIn, graph.narrow(1, begin, size)));
    }
    const torch::Tensor logits = parts.empty()       ? torch::empty({0}, floats)
                                 : parts.size() == 1 ? parts.front()
                                                     : torch::cat(parts);
    const torch::Tensor out =
        detail::keepAbove(graph, logits, detail::logitCut(d.config.filterCut)).first;
    const std::vector<std::int64_t> counts = perEvent(out);
    for (std::size_t k = 0; k < numEvents; ++k) results[k].record.filterEdges = counts[k];
    d.stream.synchronize();
    return out;
  });
  record(&StageRecord::filterMs, msSince(t0));

  // The GNN on the whole filtered graph (one call), the cut on the device; the kept edges'
  // logits are the scores of junction removal.
  t0 = Clock::now();
  torch::Tensor kept, keptScores;
  inStage(d.where, "gnn", [&] {
    const torch::Tensor logits = classify(m.gnn, m.gnnFloatIn, filtered);
    std::tie(kept, keptScores) =
        detail::keepAbove(filtered, logits, detail::logitCut(d.config.gnnCut));
    const std::vector<std::int64_t> counts = perEvent(kept);
    for (std::size_t k = 0; k < numEvents; ++k) results[k].record.gnnEdges = counts[k];
    d.stream.synchronize();
  });
  record(&StageRecord::gnnMs, msSince(t0));

  // Junction removal's orientation, the components of the whole union, one copy out. The
  // components are numbered in the order of their lowest hit over the union; no edge
  // joins two events, so event k's tracks follow those of the earlier events, numbered
  // consecutively: subtracting the earlier events' track count gives its labels alone.
  t0 = Clock::now();
  inStage(d.where, "tracks", [&] {
    // Junction removal keeps each hit's best outgoing and incoming edge: edges from the
    // hit nearer the origin to the farther one, as the CPU pipeline orients them.
    const torch::Tensor oriented = junctions ? detail::orientOutwardsTensor(xyz, kept) : kept;
    const torch::Tensor src = oriented.select(0, 0).contiguous();
    const torch::Tensor dst = oriented.select(0, 1).contiguous();
    const torch::Tensor labels = torch::empty({n}, longs);
    if (n > 0) {
      d.components.runOnDevice(n, src.data_ptr<std::int64_t>(), dst.data_ptr<std::int64_t>(),
                               src.numel(), junctions ? keptScores.data_ptr<float>() : nullptr,
                               labels.data_ptr<std::int64_t>(), stream);
    }
    const torch::Tensor out = hostBuffer(d.pinnedLabels, n, torch::kInt64);
    out.copy_(labels, /*non_blocking=*/true);
    d.stream.synchronize();
    std::vector<std::int64_t> first(numEvents), count(numEvents);
    for (std::size_t k = 0; k < numEvents; ++k) {
      first[k] = hits.first(k);
      count[k] = hits.count(k);
    }
    std::vector<std::vector<std::int64_t>> own =
        detail::splitUnionLabels(out.data_ptr<std::int64_t>(), first, count);
    for (std::size_t k = 0; k < numEvents; ++k) {
      detail::setTracks(results[k], hits.original(k), std::move(own[k]), d.config.volumes);
    }
  });
  record(&StageRecord::tracksMs, msSince(t0));
  return results;
}

bool gpuPipelineBuilt() { return device::deviceBuiltIn(); }

bool gpuPipelineAvailable(std::string& why) {
  try {
    if (!gpuPipelineBuilt()) {
      why =
          "this trkaas is built without its CUDA kernels (configure with "
          "-DTRKAAS_ENABLE_CUDA=ON)";
      return false;
    }
    if (!torch::cuda::is_available()) {
      why =
          "libtorch sees no CUDA device (no GPU or no driver here, or CUDA_VISIBLE_DEVICES "
          "hides them)";
      return false;
    }
  } catch (const std::exception& e) {
    why = "libtorch cannot use CUDA: " + detail::torchErrorReason(e.what());
    return false;
  }
  why.clear();
  return true;
}

}  // namespace trkaas
