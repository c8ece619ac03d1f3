#include "trkaas/pipeline/Pipeline.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "trkaas/core/Error.hpp"
#include "trkaas/pipeline/TorchModel.hpp"

namespace trkaas {

namespace {

using Clock = std::chrono::steady_clock;

double msSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

/// Logit threshold equivalent to sigmoid(logit) > cut, so no sigmoid is computed.
float logitCut(float cut) { return std::log(cut / (1.0f - cut)); }

/// The edges whose logit passes; their logits go to `keptLogits` when it is given.
EdgeList keep(const EdgeList& edges, const std::vector<float>& logits, float threshold,
              std::vector<float>* keptLogits = nullptr) {
  EdgeList out;
  for (std::size_t e = 0; e < edges.size(); ++e) {
    if (logits[e] > threshold) {
      out.src.push_back(edges.src[e]);
      out.dst.push_back(edges.dst[e]);
      if (keptLogits != nullptr) keptLogits->push_back(logits[e]);
    }
  }
  return out;
}

/// [src..., dst...] as the models take edge_index (2 x E, row-major). With `both`, the
/// edges in both directions: [src..., dst... ; dst..., src...] (2 x 2E).
std::vector<std::int64_t> edgeIndex(const EdgeList& edges, std::size_t begin, std::size_t end,
                                    bool both = false) {
  const auto append = [&](std::vector<std::int64_t>& to, const std::vector<std::int64_t>& from) {
    to.insert(to.end(), from.begin() + static_cast<std::ptrdiff_t>(begin),
              from.begin() + static_cast<std::ptrdiff_t>(end));
  };
  std::vector<std::int64_t> index;
  index.reserve((both ? 4 : 2) * (end - begin));
  append(index, edges.src);
  if (both) append(index, edges.dst);
  append(index, edges.dst);
  if (both) append(index, edges.src);
  return index;
}

/// Logits of the edges [begin, end) of `edges`; with `undirected`, the mean of both
/// directions' logits (the model sees each edge twice in one call).
std::vector<float> classifyEdges(const TorchModel& model, const std::vector<float>& x,
                                 std::int64_t n, const EdgeList& edges, std::size_t begin,
                                 std::size_t end, bool undirected) {
  const std::size_t e = end - begin;
  const std::vector<std::int64_t> index = edgeIndex(edges, begin, end, undirected);
  std::vector<float> logits =
      model.classify(x.data(), n, index.data(), static_cast<std::int64_t>(undirected ? 2 * e : e));
  if (undirected) {
    for (std::size_t i = 0; i < e; ++i) logits[i] = 0.5f * (logits[i] + logits[i + e]);
    logits.resize(e);
  }
  return logits;
}

/// The edges directed from the hit nearer the origin (3-D) to the farther one; at equal
/// distance from the lower index.
EdgeList orientOutwards(const EdgeList& edges, const Hits& hits) {
  const auto dist2 = [&](std::int64_t i) {
    const double x = hits.x[i], y = hits.y[i], z = hits.z[i];
    return x * x + y * y + z * z;
  };
  EdgeList out = edges;
  for (std::size_t e = 0; e < out.size(); ++e) {
    const double a = dist2(out.src[e]), b = dist2(out.dst[e]);
    if (b < a || (b == a && out.dst[e] < out.src[e])) std::swap(out.src[e], out.dst[e]);
  }
  return out;
}

}  // namespace

struct Pipeline::Impl {
  PipelineConfig config;
  FeatureBuilder features;
  GraphBuilder graph;
  TrackBuilder tracks;
  TorchModel embedding, filter, gnn;

  static TorchModel load(const std::string& path, ModelKind kind, std::int64_t f,
                         const char* name) {
    TorchModel::Config c;
    c.path = path;
    c.kind = kind;
    c.numFeatures = f;
    c.name = name;
    return TorchModel(c);
  }

  static const PipelineConfig& checked(const PipelineConfig& c) {
    const auto cutOk = [](float cut) { return cut > 0.0f && cut < 1.0f; };
    if (!cutOk(c.filterCut) || !cutOk(c.gnnCut)) {
      throw Error("pipeline: filter and GNN cuts must lie strictly between 0 and 1, got " +
                  std::to_string(c.filterCut) + " and " + std::to_string(c.gnnCut));
    }
    if (c.filterChunk < 1) throw Error("pipeline: filterChunk must be at least 1");
    if (c.maxHits < 0 || c.maxGraphEdges < 0) {
      throw Error("pipeline: maxHits and maxGraphEdges must be >= 0 (0: no limit)");
    }
    if (c.threads < 1) throw Error("pipeline: threads must be at least 1");
    return c;
  }

  static GraphBuilder::Config graphConfig(const PipelineConfig& c) {
    GraphBuilder::Config g = c.graph;
    g.threads = c.threads;
    return g;
  }

  explicit Impl(const PipelineConfig& c)
      : config(checked(c)),
        features(c.features),
        graph(graphConfig(c)),
        tracks(c.tracks),
        embedding(
            load(c.embeddingModel, ModelKind::kEmbedding, features.numFeatures(), "embedding")),
        filter(load(c.filterModel, ModelKind::kEdgeClassifier, features.numFeatures(), "filter")),
        gnn(load(c.gnnModel, ModelKind::kEdgeClassifier, features.numFeatures(), "gnn")) {
    setTorchThreads(c.threads);
  }
};

Pipeline::Pipeline(PipelineConfig config) : m_impl(std::make_unique<Impl>(config)) {}
Pipeline::~Pipeline() = default;
Pipeline::Pipeline(Pipeline&&) noexcept = default;
Pipeline& Pipeline::operator=(Pipeline&&) noexcept = default;
const PipelineConfig& Pipeline::config() const { return m_impl->config; }

PipelineResult Pipeline::run(const Event& event, const std::string& source) const {
  const Impl& d = *m_impl;
  if (!d.config.volumes.empty()) {
    // Run on the hits of the trained volumes only; the others get no track.
    Event selected;
    selected.eventId = event.eventId;
    std::vector<std::size_t> rows;
    for (std::size_t i = 0; i < event.hits.size(); ++i) {
      const std::int32_t v = event.hits.volumeId[i];
      if (std::find(d.config.volumes.begin(), d.config.volumes.end(), v) ==
          d.config.volumes.end()) {
        continue;
      }
      rows.push_back(i);
      selected.hits.push_back(event.hits.hitId[i], event.hits.x[i], event.hits.y[i],
                              event.hits.z[i], v, event.hits.layerId[i], event.hits.moduleId[i]);
    }
    if (event.hasCells()) selected.cells = event.cells;  // cells are looked up by hit id
    PipelineResult part = runSelected(selected, source);
    part.tracks.hitId = event.hits.hitId;
    std::vector<std::int64_t> labels(event.hits.size(), Tracks::kNoTrack);
    for (std::size_t k = 0; k < rows.size(); ++k) labels[rows[k]] = part.tracks.label[k];
    part.tracks.label = std::move(labels);
    part.record.hits = static_cast<std::int64_t>(event.hits.size());
    part.rows.assign(rows.begin(), rows.end());
    return part;
  }
  return runSelected(event, source);
}

PipelineResult Pipeline::runSelected(const Event& event, const std::string& source) const {
  const Impl& d = *m_impl;
  PipelineResult result;
  StageRecord& rec = result.record;
  const std::int64_t n = static_cast<std::int64_t>(event.hits.size());
  rec.hits = n;

  if (d.config.maxHits > 0 && n > d.config.maxHits) {
    throw InputError(source, event.eventId,
                     std::to_string(n) + " hits in the model's volumes, above the limit of " +
                         std::to_string(d.config.maxHits) + " (max_hits)");
  }
  auto t0 = Clock::now();
  const std::vector<float> x = d.features.build(event, source);
  rec.featuresMs = msSince(t0);

  t0 = Clock::now();
  const std::vector<float> embedded = d.embedding.embed(x.data(), n);
  rec.embeddingMs = msSince(t0);

  t0 = Clock::now();
  result.edges.graph = d.graph.build(embedded.data(), n, d.embedding.outputDim());
  rec.graphMs = msSince(t0);
  rec.graphEdges = static_cast<std::int64_t>(result.edges.graph.size());
  if (d.config.maxGraphEdges > 0 && rec.graphEdges > d.config.maxGraphEdges) {
    throw InputError(source, event.eventId,
                     std::to_string(rec.graphEdges) + " radius-graph edges, above the limit of " +
                         std::to_string(d.config.maxGraphEdges) + " (max_graph_edges)");
  }

  // Filter in chunks of edges: its memory grows with the edges, not the hits.
  t0 = Clock::now();
  const EdgeList& g = result.edges.graph;
  std::vector<float> logits;
  logits.reserve(g.size());
  const std::size_t chunk = static_cast<std::size_t>(d.config.filterChunk);
  for (std::size_t begin = 0; begin < g.size(); begin += chunk) {
    const std::size_t end = std::min(g.size(), begin + chunk);
    const std::vector<float> part =
        classifyEdges(d.filter, x, n, g, begin, end, d.config.undirected);
    logits.insert(logits.end(), part.begin(), part.end());
  }
  result.edges.filter = keep(g, logits, logitCut(d.config.filterCut));
  rec.filterMs = msSince(t0);
  rec.filterEdges = static_cast<std::int64_t>(result.edges.filter.size());

  // The GNN passes messages over the whole filtered graph: one call.
  t0 = Clock::now();
  const EdgeList& f = result.edges.filter;
  const std::vector<float> gnnLogits =
      classifyEdges(d.gnn, x, n, f, 0, f.size(), d.config.undirected);
  // Junction removal needs the scores of the surviving edges: keep them with the edges.
  std::vector<float> keptScores;
  result.edges.gnn = keep(f, gnnLogits, logitCut(d.config.gnnCut), &keptScores);
  rec.gnnMs = msSince(t0);
  rec.gnnEdges = static_cast<std::int64_t>(result.edges.gnn.size());

  t0 = Clock::now();
  const EdgeList& kept = result.edges.gnn;
  result.tracks.eventId = event.eventId;
  result.tracks.hitId = event.hits.hitId;
  if (d.config.tracks.junctionRemoval) {
    // Junction removal keeps each hit's best outgoing and incoming edge: orient every edge
    // from the hit nearer the origin to the farther one (along the particle's flight, in
    // the barrel and in the endcaps alike).
    const EdgeList oriented = orientOutwards(kept, event.hits);
    result.tracks.label =
        d.tracks.build(n, oriented.src.data(), oriented.dst.data(),
                       static_cast<std::int64_t>(oriented.size()), keptScores.data());
  } else {
    result.tracks.label = d.tracks.build(n, kept.src.data(), kept.dst.data(),
                                         static_cast<std::int64_t>(kept.size()), nullptr);
  }
  rec.tracksMs = msSince(t0);
  std::int64_t maxLabel = -1;
  for (std::int64_t l : result.tracks.label) maxLabel = std::max(maxLabel, l);
  rec.tracks = maxLabel + 1;
  return result;
}

}  // namespace trkaas
