// The whole chain with the small test models (make_test_models.py): every hit gets a
// label, hits outside the configured volumes get none, stage records add up, and
// configuration mistakes are refused.
#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string>

#include "PipelineTestConfig.hpp"
#include "TrkaasCatch.hpp"
#include "trkaas/core/Error.hpp"
#include "trkaas/pipeline/Pipeline.hpp"

using namespace trkaas;

namespace {
std::string model(const std::string& name) { return test::testModel(name); }

PipelineConfig testConfig() {
  PipelineConfig c = test::smallModelsConfig();
  c.threads = 2;
  return c;
}

/// Hits on a few straight lines from the origin, in volumes 8 (barrel) and 13.
Event lines() {
  Event e;
  e.eventId = 77;
  std::int64_t id = 1000;
  for (int line = 0; line < 6; ++line) {
    const double phi = 0.4 * line;
    for (int layer = 0; layer < 5; ++layer) {
      const double r = 40.0 + 60.0 * layer;
      e.hits.push_back(id, static_cast<float>(r * std::cos(phi)),
                       static_cast<float>(r * std::sin(phi)), static_cast<float>(10.0 * line),
                       layer < 3 ? 8 : 13, 2 * layer, line);
      id += 7;
    }
  }
  return e;
}
}  // namespace

TEST_CASE("pipeline labels every hit and keeps the stage records", "[pipeline][chain]") {
  Pipeline pipeline(testConfig());
  const Event e = lines();
  const PipelineResult r = pipeline.run(e);
  REQUIRE(r.tracks.eventId == 77);
  REQUIRE(r.tracks.hitId == e.hits.hitId);
  REQUIRE(r.tracks.label.size() == e.hits.size());
  REQUIRE(r.record.hits == 30);
  // Each stage keeps a subset of the previous one's edges, all i < j.
  REQUIRE(r.record.graphEdges == static_cast<std::int64_t>(r.edges.graph.size()));
  REQUIRE(r.record.filterEdges <= r.record.graphEdges);
  REQUIRE(r.record.gnnEdges <= r.record.filterEdges);
  REQUIRE(r.record.graphEdges > 0);
  std::set<std::pair<std::int64_t, std::int64_t>> graph;
  for (std::size_t k = 0; k < r.edges.graph.size(); ++k) {
    REQUIRE(r.edges.graph.src[k] < r.edges.graph.dst[k]);
    graph.emplace(r.edges.graph.src[k], r.edges.graph.dst[k]);
  }
  for (std::size_t k = 0; k < r.edges.gnn.size(); ++k) {
    REQUIRE(graph.count({r.edges.gnn.src[k], r.edges.gnn.dst[k]}) == 1);
  }
  // Labels are 0..tracks-1 or -1, and every track has at least minTrackSize hits.
  std::map<std::int64_t, int> sizes;
  for (std::int64_t l : r.tracks.label) {
    REQUIRE(l >= -1);
    REQUIRE(l < r.record.tracks);
    if (l >= 0) ++sizes[l];
  }
  REQUIRE(static_cast<std::int64_t>(sizes.size()) == r.record.tracks);
  for (const auto& [label, size] : sizes) REQUIRE(size >= 2);
  REQUIRE(r.record.totalMs() > 0.0);
  // Deterministic: the same event gives the same labels.
  REQUIRE(pipeline.run(e).tracks.label == r.tracks.label);
}

TEST_CASE("pipeline runs only on the configured volumes", "[pipeline][chain]") {
  PipelineConfig c = testConfig();
  c.volumes = {13};
  const Event e = lines();
  const PipelineResult r = Pipeline(c).run(e);
  REQUIRE(r.tracks.label.size() == e.hits.size());
  std::int64_t labelled = 0;
  for (std::size_t i = 0; i < e.hits.size(); ++i) {
    if (e.hits.volumeId[i] != 13) REQUIRE(r.tracks.label[i] == -1);
    labelled += r.tracks.label[i] >= 0;
  }
  REQUIRE(labelled > 0);
}

TEST_CASE("pipeline handles tiny events", "[pipeline][chain]") {
  Pipeline pipeline(testConfig());
  Event one;
  one.eventId = 1;
  one.hits.push_back(5, 30.f, 0.f, 1.f, 8, 2, 1);
  const PipelineResult r = pipeline.run(one);
  REQUIRE(r.tracks.label == std::vector<std::int64_t>{-1});
  REQUIRE(r.record.graphEdges == 0);
  // An event with no hit in the configured volumes.
  PipelineConfig c = testConfig();
  c.volumes = {17};
  REQUIRE(Pipeline(c).run(lines()).tracks.label == std::vector<std::int64_t>(30, -1));
}

TEST_CASE("filter edge chunks do not change the result", "[pipeline][chain]") {
  PipelineConfig c = testConfig();
  c.filterModel = model("edge_antisym.pt");  // keeps the edges pointing one way in r
  c.filterCut = 0.5f;
  const Event e = lines();
  const PipelineResult whole = Pipeline(c).run(e);
  REQUIRE(whole.record.filterEdges > 0);
  REQUIRE(whole.record.filterEdges < whole.record.graphEdges);
  for (std::int64_t chunk : {1, 3, 17}) {
    c.filterChunk = chunk;
    const PipelineResult r = Pipeline(c).run(e);
    REQUIRE(r.edges.filter.src == whole.edges.filter.src);
    REQUIRE(r.edges.filter.dst == whole.edges.filter.dst);
    REQUIRE(r.edges.gnn.src == whole.edges.gnn.src);
    REQUIRE(r.tracks.label == whole.tracks.label);
  }
}

TEST_CASE("undirected scoring averages both directions of each edge", "[pipeline][chain]") {
  // An antisymmetric edge model: one direction's logit is minus the other's, so directed
  // scoring keeps the edges that point one way and undirected scoring gives every edge
  // sigmoid(0) = 0.5 exactly.
  PipelineConfig c = testConfig();
  c.filterModel = model("edge_antisym.pt");
  c.gnnModel = model("edge_antisym.pt");
  const Event e = lines();
  c.filterCut = 0.4f;
  c.gnnCut = 0.4f;
  const PipelineResult directed = Pipeline(c).run(e);
  REQUIRE(directed.record.graphEdges > 0);
  REQUIRE(directed.record.filterEdges > 0);
  REQUIRE(directed.record.filterEdges < directed.record.graphEdges);
  c.undirected = true;
  const PipelineResult below = Pipeline(c).run(e);  // 0.5 passes a cut of 0.4
  REQUIRE(below.record.filterEdges == below.record.graphEdges);
  REQUIRE(below.record.gnnEdges == below.record.graphEdges);
  c.filterCut = 0.6f;  // and fails one of 0.6
  const PipelineResult above = Pipeline(c).run(e);
  REQUIRE(above.record.filterEdges == 0);
  REQUIRE(above.tracks.label == std::vector<std::int64_t>(e.hits.size(), -1));
}

TEST_CASE("events above the hit or edge limit fail with the reason", "[pipeline][chain]") {
  PipelineConfig c = testConfig();
  const Event e = lines();  // 30 hits
  c.maxHits = 30;
  REQUIRE(Pipeline(c).run(e, "f.h5").record.hits == 30);  // at the limit: runs
  c.maxHits = 29;
  REQUIRE_THROWS_WITH(Pipeline(c).run(e, "f.h5"), HasSubstring("event 77") &&
                                                      HasSubstring("30 hits") &&
                                                      HasSubstring("max_hits"));
  c.maxHits = 0;
  const std::int64_t edges = Pipeline(c).run(e).record.graphEdges;
  REQUIRE(edges > 1);
  c.maxGraphEdges = edges - 1;
  REQUIRE_THROWS_WITH(Pipeline(c).run(e, "f.h5"),
                      HasSubstring(std::to_string(edges) + " radius-graph edges") &&
                          HasSubstring("max_graph_edges"));
}

TEST_CASE("a batch of events gives each event what it gets alone", "[pipeline][chain]") {
  Pipeline pipeline(testConfig());
  // Three events with the same hit ids (ids need not be unique across events), shifted
  // so that their graphs differ; one has no hit in the volumes the models see.
  std::vector<Event> events;
  for (int k = 0; k < 3; ++k) {
    Event e = lines();
    e.eventId = 100 + k;
    for (float& z : e.hits.z) z += 25.0f * static_cast<float>(k);
    if (k == 2) std::fill(e.hits.volumeId.begin(), e.hits.volumeId.end(), 13);
    events.push_back(e);
  }
  PipelineConfig c = testConfig();
  c.volumes = {8};
  Pipeline selecting(c);
  for (Pipeline* p : {&pipeline, &selecting}) {
    const std::vector<PipelineResult> batch = p->runBatch({&events[0], &events[1], &events[2]});
    REQUIRE(batch.size() == 3);
    for (std::size_t k = 0; k < 3; ++k) {
      INFO("event " << k);
      const PipelineResult alone = p->run(events[k]);
      REQUIRE(batch[k].tracks.eventId == events[k].eventId);
      REQUIRE(batch[k].tracks.hitId == alone.tracks.hitId);
      REQUIRE(batch[k].tracks.label == alone.tracks.label);
      REQUIRE(batch[k].edges.graph.src == alone.edges.graph.src);
      REQUIRE(batch[k].edges.graph.dst == alone.edges.graph.dst);
      REQUIRE(batch[k].edges.gnn.dst == alone.edges.gnn.dst);
      REQUIRE(batch[k].record.graphEdges == alone.record.graphEdges);
      REQUIRE(batch[k].record.gnnEdges == alone.record.gnnEdges);
    }
  }
  REQUIRE(pipeline.runBatch({}).empty());
}

TEST_CASE("pipeline config mistakes are refused at construction", "[pipeline][chain]") {
  PipelineConfig c = testConfig();
  c.filterCut = 1.0f;
  REQUIRE_THROWS_WITH(Pipeline(c), HasSubstring("cuts must lie strictly between 0 and 1"));
  c = testConfig();
  c.extendCut = c.gnnCut;  // an extension cut must lie below the GNN cut
  REQUIRE_THROWS_WITH(Pipeline(c), HasSubstring("extension cut must lie strictly between 0 and"));
  c = testConfig();
  c.embeddingChunk = -1;
  REQUIRE_THROWS_WITH(Pipeline(c), HasSubstring("embeddingChunk must be >= 0"));
  c = testConfig();
  c.gnnModel = model("emb_good.pt");  // an embedding where an edge classifier belongs
  REQUIRE_THROWS_WITH(
      Pipeline(c), HasSubstring("model 'gnn'") && HasSubstring("edge classifier's forward takes"));
  c = testConfig();
  c.features.features = {{"r", 1000.f}, {"z", 1000.f}};  // the models take 3 features
  REQUIRE_THROWS_WITH(Pipeline(c), HasSubstring("forward failed with F=2"));
}

TEST_CASE("where the pipeline cannot run on a GPU, it says why", "[pipeline][chain]") {
  // In every build: gpuPipelineAvailable() gives the reason, and loading the models then
  // fails with it (gpu_pipeline_tests covers the GPU itself).
  std::string why;
  if (gpuPipelineAvailable(why)) {
    REQUIRE(why.empty());
    return;
  }
  REQUIRE(!why.empty());
  ExecutionOptions gpu;
  gpu.device = 0;
  REQUIRE_THROWS_WITH(PipelineModels::load(testConfig(), gpu), HasSubstring(why));
  REQUIRE_THROWS_WITH(Pipeline(testConfig(), gpu), HasSubstring(why));
  REQUIRE(toString(ExecutionOptions::kBFloat16) == "bfloat16");
  REQUIRE(deviceName(gpu) == "cuda:0");
}
