#include "trkaas/pipeline/Pipeline.hpp"

#include <algorithm>
#include <chrono>

#include "PipelineCommon.hpp"
#include "trkaas/core/Error.hpp"
#include "trkaas/pipeline/TorchModel.hpp"

namespace trkaas {

namespace {

using Clock = std::chrono::steady_clock;

double msSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

using detail::keep;
using detail::logitCut;
using detail::orientOutwards;

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
    detail::checkPipelineConfig(c);
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

namespace {

/// The edges of `edges` with both ends in [first, first + n), shifted to start at 0, and
/// the matching entries of `scores` (when given).
EdgeList segmentOf(const EdgeList& edges, std::int64_t first, std::int64_t n,
                   const std::vector<float>* scores, std::vector<float>* segmentScores) {
  EdgeList out;
  const auto lo = std::lower_bound(edges.src.begin(), edges.src.end(), first);
  const auto hi = std::lower_bound(edges.src.begin(), edges.src.end(), first + n);
  for (auto it = lo; it != hi; ++it) {
    const std::size_t e = static_cast<std::size_t>(it - edges.src.begin());
    out.src.push_back(edges.src[e] - first);
    out.dst.push_back(edges.dst[e] - first);
    if (scores != nullptr) segmentScores->push_back((*scores)[e]);
  }
  return out;
}

}  // namespace

PipelineResult Pipeline::run(const Event& event, const std::string& source) const {
  std::vector<PipelineResult> results = runBatch({&event}, source);
  return std::move(results.front());
}

std::vector<PipelineResult> Pipeline::runBatch(const std::vector<const Event*>& events,
                                               const std::string& source) const {
  const Impl& d = *m_impl;
  useTorchThreadsInThisThread(d.config.threads);
  const std::size_t numEvents = events.size();
  std::vector<PipelineResult> results(numEvents);
  if (numEvents == 0) return results;

  // The selected hits of all events, one after the other (their disjoint union).
  const detail::BatchHits hits(events, d.config, results, source);
  const Event* merged = &hits.merged();
  const std::int64_t n = hits.numHits();
  const auto record = [&](double StageRecord::*field, double ms) {
    hits.record(results, field, ms);
  };

  auto t0 = Clock::now();
  const std::vector<float> x = d.features.build(*merged, source);
  record(&StageRecord::featuresMs, msSince(t0));

  t0 = Clock::now();
  const std::vector<float> embedded = d.embedding.embed(x.data(), n);
  record(&StageRecord::embeddingMs, msSince(t0));

  // The radius graph of each event on its own: no edge joins two events of a batch.
  t0 = Clock::now();
  const std::int64_t dim = d.embedding.outputDim();
  EdgeList graph;
  for (std::size_t k = 0; k < numEvents; ++k) {
    EdgeList g = d.graph.build(embedded.data() + hits.first(k) * dim, hits.count(k), dim);
    const std::int64_t edges = static_cast<std::int64_t>(g.size());
    detail::checkGraphEdges(source, hits.original(k), edges, d.config.maxGraphEdges);
    results[k].record.graphEdges = edges;
    for (std::size_t e = 0; e < g.size(); ++e) {
      graph.src.push_back(g.src[e] + hits.first(k));
      graph.dst.push_back(g.dst[e] + hits.first(k));
    }
  }
  record(&StageRecord::graphMs, msSince(t0));

  // Filter in chunks of edges: its memory grows with the edges, not the hits.
  t0 = Clock::now();
  std::vector<float> logits;
  logits.reserve(graph.size());
  const std::size_t chunk = static_cast<std::size_t>(d.config.filterChunk);
  for (std::size_t begin = 0; begin < graph.size(); begin += chunk) {
    const std::size_t end = std::min(graph.size(), begin + chunk);
    const std::vector<float> part =
        classifyEdges(d.filter, x, n, graph, begin, end, d.config.undirected);
    logits.insert(logits.end(), part.begin(), part.end());
  }
  const EdgeList filtered = keep(graph, logits, logitCut(d.config.filterCut));
  record(&StageRecord::filterMs, msSince(t0));

  // The GNN passes messages over the whole filtered graph: one call.
  t0 = Clock::now();
  const std::vector<float> gnnLogits =
      classifyEdges(d.gnn, x, n, filtered, 0, filtered.size(), d.config.undirected);
  // Junction removal needs the scores of the surviving edges: keep them with the edges.
  std::vector<float> keptScores;
  const EdgeList kept = keep(filtered, gnnLogits, logitCut(d.config.gnnCut), &keptScores);
  record(&StageRecord::gnnMs, msSince(t0));

  t0 = Clock::now();
  for (std::size_t k = 0; k < numEvents; ++k) {
    PipelineResult& r = results[k];
    const Event& e = hits.selected(k);
    const std::int64_t m = hits.count(k);
    const std::int64_t first = hits.first(k);
    std::vector<float> scores;
    r.edges.graph = numEvents > 1 ? segmentOf(graph, first, m, nullptr, nullptr) : graph;
    r.edges.filter = numEvents > 1 ? segmentOf(filtered, first, m, nullptr, nullptr) : filtered;
    r.edges.gnn = segmentOf(kept, first, m, &keptScores, &scores);
    r.record.filterEdges = static_cast<std::int64_t>(r.edges.filter.size());
    r.record.gnnEdges = static_cast<std::int64_t>(r.edges.gnn.size());
    const EdgeList& edges = r.edges.gnn;
    std::vector<std::int64_t> labels;
    if (d.config.tracks.junctionRemoval) {
      // Junction removal keeps each hit's best outgoing and incoming edge: orient every
      // edge from the hit nearer the origin to the farther one (along the particle's
      // flight, in the barrel and in the endcaps alike).
      const EdgeList oriented = orientOutwards(edges, e.hits);
      labels = d.tracks.build(m, oriented.src.data(), oriented.dst.data(),
                              static_cast<std::int64_t>(oriented.size()), scores.data());
    } else {
      labels = d.tracks.build(m, edges.src.data(), edges.dst.data(),
                              static_cast<std::int64_t>(edges.size()), nullptr);
    }
    detail::setTracks(r, hits.original(k), std::move(labels), d.config.volumes);
  }
  record(&StageRecord::tracksMs, msSince(t0));
  return results;
}

}  // namespace trkaas
