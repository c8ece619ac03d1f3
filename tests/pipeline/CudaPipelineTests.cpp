// The one Pipeline on a CUDA device against itself on the CPU, with the small test models
// (make_test_models.py) on generated events: in float32 the same tracks (as partitions of
// the hits), the same graph, filter and GNN edges per event, alone and in a batch of 3,
// with junction removal on and off, with directed and undirected scoring; float16 and
// bfloat16 run and give a label per hit. Built only with the CUDA stages; without a usable
// GPU the tests skip, unless TRKAAS_REQUIRE_GPU=1 (then they fail).
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "PipelineTestConfig.hpp"
#include "TrkaasCatch.hpp"
#include "trkaas/core/Error.hpp"
#include "trkaas/pipeline/Pipeline.hpp"
#include "trkaas/sim/Detector.hpp"
#include "trkaas/sim/EventGenerator.hpp"

using namespace trkaas;

namespace {

/// As PipelineTests' config; the models see the pixel volumes 7 and 8 (volume 9 gets -1).
PipelineConfig testConfig() {
  PipelineConfig c = test::smallModelsConfig();
  c.volumes = {7, 8};
  return c;
}

/// Three small events in the pixel detector (volumes 7, 8, 9).
const std::vector<Event>& events() {
  static const std::vector<Event> generated = [] {
    GeneratorConfig g;
    g.pileup = 2;
    g.fixedPileup = true;
    g.seed = 31;
    g.volumes = {7, 8, 9};
    const auto detector =
        std::make_shared<const Detector>(Detector::load(Detector::defaultPath(), g.volumes));
    const EventGenerator generator(detector, g);
    return std::vector<Event>{generator.generate(1), generator.generate(2), generator.generate(3)};
  }();
  return generated;
}

bool gpuRequired() {
  const char* v = std::getenv("TRKAAS_REQUIRE_GPU");
  return v != nullptr && std::string(v) == "1";
}

/// Whether the GPU pipeline runs here; skips the test where it does not (fails instead
/// under TRKAAS_REQUIRE_GPU=1, so that a missing GPU cannot pass as success).
bool gpuHere() {
  std::string why;
  if (gpuPipelineAvailable(why)) return true;
  if (gpuRequired()) FAIL("TRKAAS_REQUIRE_GPU=1, but the GPU pipeline cannot run: " << why);
  TRKAAS_SKIP("no GPU pipeline here (" << why << "); set TRKAAS_REQUIRE_GPU=1 to fail instead");
  return false;
}

/// Hits whose label in `b` differs from the renaming of `a`'s labels that agrees best
/// (each label of `a` mapped to the label of `b` on its first hit; -1 must stay -1): 0
/// when both give the same partition of the hits.
std::size_t labelChanges(const std::vector<std::int64_t>& a, const std::vector<std::int64_t>& b) {
  REQUIRE(a.size() == b.size());
  std::map<std::int64_t, std::int64_t> aToB, bToA;
  std::size_t changed = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const bool sameNone = (a[i] < 0) == (b[i] < 0);
    if (!sameNone) {
      ++changed;
      continue;
    }
    if (a[i] < 0) continue;
    const auto ab = aToB.emplace(a[i], b[i]).first;
    const auto ba = bToA.emplace(b[i], a[i]).first;
    if (ab->second != b[i] || ba->second != a[i]) ++changed;
  }
  return changed;
}

void requireSameAsCpu(const PipelineResult& gpu, const PipelineResult& cpu, bool edges) {
  REQUIRE(gpu.tracks.eventId == cpu.tracks.eventId);
  REQUIRE(gpu.tracks.hitId == cpu.tracks.hitId);
  REQUIRE(gpu.rows == cpu.rows);
  REQUIRE(gpu.record.hits == cpu.record.hits);
  REQUIRE(gpu.record.graphEdges == cpu.record.graphEdges);
  REQUIRE(gpu.record.filterEdges == cpu.record.filterEdges);
  REQUIRE(gpu.record.gnnEdges == cpu.record.gnnEdges);
  REQUIRE(gpu.record.tracks == cpu.record.tracks);
  REQUIRE(labelChanges(cpu.tracks.label, gpu.tracks.label) == 0);
  // The device components number tracks as TrackBuilder does: not only the same partition.
  CHECK(gpu.tracks.label == cpu.tracks.label);
  if (edges) {
    REQUIRE(gpu.edges.graph.src == cpu.edges.graph.src);
    REQUIRE(gpu.edges.graph.dst == cpu.edges.graph.dst);
    REQUIRE(gpu.edges.filter.dst == cpu.edges.filter.dst);
    REQUIRE(gpu.edges.gnn.src == cpu.edges.gnn.src);
    REQUIRE(gpu.edges.gnn.dst == cpu.edges.gnn.dst);
  } else {
    // Without stageEdges the edges stay on the device: counts only.
    REQUIRE(gpu.edges.graph.size() == 0);
    REQUIRE(gpu.edges.gnn.size() == 0);
  }
}

}  // namespace

TEST_CASE("on CUDA the pipeline gives its CPU tracks and edges in float32", "[pipeline][gpu]") {
  if (!gpuHere()) return;
  const std::vector<Event>& e = events();
  struct Variant {
    const char* name;
    bool junctionRemoval, undirected;
    std::int64_t edgeChunk;
  };
  for (const Variant& v : {Variant{"plain", false, false, 0}, Variant{"junctions", true, false, 0},
                           Variant{"undirected, chunks of 100", false, true, 100},
                           Variant{"junctions, undirected", true, true, 0}}) {
    INFO("variant: " << v.name);
    PipelineConfig c = testConfig();
    c.tracks.junctionRemoval = v.junctionRemoval;
    c.undirected = v.undirected;
    ExecutionOptions o;
    o.device = 0;
    o.edgeChunk = v.edgeChunk;
    o.stageEdges = v.edgeChunk == 0;  // both ways
    Pipeline cpu(c);
    Pipeline gpu(c, o, PipelineModels::load(c, o));
    std::vector<PipelineResult> alone;
    for (const Event& event : e) {
      alone.push_back(cpu.run(event));
      REQUIRE(alone.back().record.graphEdges > 0);
      REQUIRE(alone.back().record.tracks > 0);
    }
    for (std::size_t k = 0; k < e.size(); ++k) {
      INFO("event " << e[k].eventId << " alone");
      requireSameAsCpu(gpu.run(e[k]), alone[k], o.stageEdges);
    }
    const std::vector<PipelineResult> batch = gpu.runBatch({&e[0], &e[1], &e[2]});
    REQUIRE(batch.size() == 3);
    for (std::size_t k = 0; k < e.size(); ++k) {
      INFO("event " << e[k].eventId << " in a batch of 3");
      requireSameAsCpu(batch[k], alone[k], o.stageEdges);
      REQUIRE(batch[k].record.totalMs() > 0.0);
    }
  }
}

TEST_CASE("on CUDA the pipeline runs in float16 and bfloat16", "[pipeline][gpu]") {
  if (!gpuHere()) return;
  const std::vector<Event>& e = events();
  PipelineConfig c = testConfig();
  c.tracks.junctionRemoval = true;
  ExecutionOptions o;
  o.device = 0;
  Pipeline reference(c, o);
  const std::vector<PipelineResult> full = reference.runBatch({&e[0], &e[1], &e[2]});
  for (const ExecutionOptions::Precision p :
       {ExecutionOptions::kFloat16, ExecutionOptions::kBFloat16}) {
    INFO("precision " << toString(p));
    o.precision = p;
    Pipeline gpu(c, o);
    const std::vector<PipelineResult> half = gpu.runBatch({&e[0], &e[1], &e[2]});
    REQUIRE(half.size() == 3);
    std::size_t changed = 0, hits = 0;
    for (std::size_t k = 0; k < e.size(); ++k) {
      REQUIRE(half[k].tracks.hitId == e[k].hits.hitId);
      REQUIRE(half[k].tracks.label.size() == e[k].hits.size());
      changed += labelChanges(full[k].tracks.label, half[k].tracks.label);
      hits += e[k].hits.size();
    }
    WARN(toString(p) << ": " << changed << " of " << hits
                     << " hits changed track against float32 (no physics expected of the "
                        "random test models)");
  }
}

TEST_CASE("on CUDA the pipeline refuses options that do not match its models", "[pipeline][gpu]") {
  if (!gpuHere()) return;
  const PipelineConfig c = testConfig();
  ExecutionOptions o;
  o.device = 0;
  const auto models = PipelineModels::load(c, o);
  ExecutionOptions other = o;
  other.precision = ExecutionOptions::kFloat16;
  REQUIRE_THROWS_WITH(Pipeline(c, other, models), HasSubstring("models were loaded on"));
  other = o;
  other.device = -1;
  REQUIRE_THROWS_WITH(Pipeline(c, other, models), HasSubstring("models were loaded on cuda:0"));
  other = o;
  other.edgeChunk = -1;
  REQUIRE_THROWS_WITH(Pipeline(c, other, models), HasSubstring("edgeChunk"));
  other = o;
  other.device = 1000;
  REQUIRE_THROWS_WITH(PipelineModels::load(c, other), HasSubstring("does not exist"));
  // A limit: the input error names the event, as on the CPU.
  PipelineConfig limited = c;
  limited.maxHits = 5;
  Pipeline gpu(limited, o, models);
  REQUIRE_THROWS_WITH(gpu.run(events()[0], "f.h5"), HasSubstring("max_hits"));
}
