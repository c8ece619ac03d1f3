#pragma once
/// The Exa.TrkX inference chain for one event: features -> embedding -> radius graph ->
/// filter (cut) -> GNN (cut) -> connected components. Models are loaded once; run() is
/// const and may be called from several threads, each event with its own state.

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
  /// The filter scores at most this many edges per call, bounding its memory.
  std::int64_t filterChunk = 1 << 20;
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

/// Where one event's time went, and how much of the graph each stage kept.
struct StageRecord {
  double featuresMs = 0, embeddingMs = 0, graphMs = 0, filterMs = 0, gnnMs = 0, tracksMs = 0;
  std::int64_t hits = 0, graphEdges = 0, filterEdges = 0, gnnEdges = 0, tracks = 0;
  double totalMs() const {
    return featuresMs + embeddingMs + graphMs + filterMs + gnnMs + tracksMs;
  }
};

/// The edges after each stage (for truth metrics of the edges).
struct StageEdges {
  EdgeList graph, filter, gnn;
};

struct PipelineResult {
  Tracks tracks;  ///< hit ids of the event and one label per hit
  StageRecord record;
  /// Edges after each stage; their ends index `rows` (the hits of the configured
  /// volumes), or all hits in order when `rows` is empty.
  StageEdges edges;
  std::vector<std::int64_t> rows;
};

class Pipeline {
 public:
  /// Validates the config, loads and probes the models. Throws trkaas::Error.
  explicit Pipeline(PipelineConfig config);
  ~Pipeline();
  Pipeline(Pipeline&&) noexcept;
  Pipeline& operator=(Pipeline&&) noexcept;

  /// Tracks for every hit of the event (hits outside the configured volumes: -1). The
  /// stage edges index the hits the models saw. `source` names the input in errors.
  PipelineResult run(const Event& event, const std::string& source = "event") const;
  /// Several (small) events as one graph, their disjoint union: one model call per stage
  /// for all of them, a radius graph per event (no edge joins two events), tracks per
  /// event. Each result is the one run() gives for its event; the batch's stage times are
  /// shared out by hits. An event over a limit fails the whole call (run the events
  /// alone to find it).
  std::vector<PipelineResult> runBatch(const std::vector<const Event*>& events,
                                       const std::string& source = "batch") const;
  const PipelineConfig& config() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

}  // namespace trkaas
