// The pipeline's stages (src/pipeline/Stages.hpp), one test body per stage run on every
// device this build and machine have: the CPU always, CUDA device 0 where the CUDA stages
// are built and a GPU is visible (TRKAAS_REQUIRE_GPU=1 makes a missing GPU a failure).
// Each expected answer is computed here from the stage's definition (brute-force radius
// graph, plain loops for cuts, orientation and components), not by the code under test.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "PipelineCommon.hpp"
#include "ScriptModel.hpp"
#include "Stages.hpp"
#include "TorchGraphOps.hpp"
#include "TrkaasCatch.hpp"
#include "trkaas/pipeline/Pipeline.hpp"
#include "trkaas/pipeline/TorchModel.hpp"
#include "trkaas/pipeline/TrackBuilder.hpp"

using namespace trkaas;
using trkaas::detail::ExecutionContext;

namespace {

using Pairs = std::vector<std::pair<std::int64_t, std::int64_t>>;

/// The CPU, and CUDA device 0 where the pipeline can run there.
std::vector<ExecutionContext> contexts() {
  std::vector<ExecutionContext> out(1);
  std::string why;
  if (gpuPipelineAvailable(why)) {
    ExecutionContext cuda;
    cuda.device = torch::Device(torch::kCUDA, 0);
    cuda.stream = trkaas::detail::cudaPoolStream(0);
    out.push_back(cuda);
  } else {
    const char* v = std::getenv("TRKAAS_REQUIRE_GPU");
    if (v != nullptr && std::string(v) == "1") FAIL("TRKAAS_REQUIRE_GPU=1, but " << why);
    WARN("stages tested on the CPU only: " << why);
  }
  return out;
}

torch::Tensor toTensor(const Pairs& pairs) {
  std::vector<std::int64_t> flat;
  for (const auto& p : pairs) flat.push_back(p.first);
  for (const auto& p : pairs) flat.push_back(p.second);
  return torch::tensor(flat, torch::kInt64).view({2, static_cast<std::int64_t>(pairs.size())});
}

Pairs toPairs(const torch::Tensor& t) {
  const torch::Tensor c = t.cpu().contiguous();
  const std::int64_t n = c.size(1);
  const std::int64_t* p = c.data_ptr<std::int64_t>();
  Pairs out;
  for (std::int64_t e = 0; e < n; ++e) out.emplace_back(p[e], p[n + e]);
  return out;
}

std::vector<float> toFloats(const torch::Tensor& t) {
  const torch::Tensor c = t.cpu().contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

std::vector<std::int64_t> toLongs(const torch::Tensor& t) {
  const torch::Tensor c = t.cpu().contiguous();
  return std::vector<std::int64_t>(c.data_ptr<std::int64_t>(),
                                   c.data_ptr<std::int64_t>() + c.numel());
}

/// Random undirected edges (i < j, sorted, no duplicates) among n hits.
Pairs randomEdges(std::int64_t n, std::size_t count, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<std::int64_t> hit(0, n - 1);
  Pairs pairs;
  while (pairs.size() < count) {
    const std::int64_t a = hit(rng), b = hit(rng);
    if (a != b) pairs.emplace_back(std::min(a, b), std::max(a, b));
  }
  std::sort(pairs.begin(), pairs.end());
  pairs.erase(std::unique(pairs.begin(), pairs.end()), pairs.end());
  return pairs;
}

/// Components of n hits joined by `edges`, numbered by their lowest hit, -1 below minSize.
std::vector<std::int64_t> components(std::int64_t n, const Pairs& edges, std::int64_t minSize) {
  std::vector<std::vector<std::int64_t>> adj(static_cast<std::size_t>(n));
  for (const auto& [a, b] : edges) {
    adj[a].push_back(b);
    adj[b].push_back(a);
  }
  std::vector<std::int64_t> comp(static_cast<std::size_t>(n), -1), labels(comp.size(), -1);
  std::int64_t next = 0;
  for (std::int64_t s = 0; s < n; ++s) {
    if (comp[s] >= 0) continue;
    std::vector<std::int64_t> stack = {s}, members;
    comp[s] = s;
    while (!stack.empty()) {
      const std::int64_t v = stack.back();
      stack.pop_back();
      members.push_back(v);
      for (std::int64_t w : adj[v]) {
        if (comp[w] < 0) {
          comp[w] = s;
          stack.push_back(w);
        }
      }
    }
    if (static_cast<std::int64_t>(members.size()) < minSize) continue;
    for (std::int64_t v : members) labels[v] = next;
    ++next;
  }
  return labels;
}

std::string model(const std::string& name) { return std::string(TRKAAS_TEST_MODELS) + "/" + name; }

}  // namespace

TEST_CASE("graph stage: the radius graph of GraphBuilder.hpp's definition on every device",
          "[pipeline][stage]") {
  // Clustered points in 4 dimensions: many neighbours within the radius, so the k cap and
  // its distance order matter.
  const std::int64_t n = 400, dim = 4;
  std::mt19937 rng(17);
  std::uniform_real_distribution<float> centre(-3.f, 3.f);
  std::normal_distribution<float> spread(0.f, 0.15f);
  std::vector<float> points;
  for (std::int64_t i = 0; i < n; i += 20) {
    std::vector<float> c(dim);
    for (float& v : c) v = centre(rng);
    for (std::int64_t j = 0; j < 20; ++j) {
      for (std::int64_t d = 0; d < dim; ++d) points.push_back(c[d] + spread(rng));
    }
  }
  GraphBuilder::Config config;
  config.radius = 0.3f;
  config.maxNeighbours = 6;
  // Expected: every point's k nearest within the radius (double distances, ties by index),
  // made undirected, i < j, sorted.
  Pairs expected;
  std::int64_t capped = 0;  // points with more neighbours than k: the cap matters
  for (std::int64_t i = 0; i < n; ++i) {
    std::vector<std::pair<double, std::int64_t>> near;
    for (std::int64_t j = 0; j < n; ++j) {
      if (j == i) continue;
      double d2 = 0;
      for (std::int64_t d = 0; d < dim; ++d) {
        const double diff = double(points[i * dim + d]) - double(points[j * dim + d]);
        d2 += diff * diff;
      }
      if (std::sqrt(d2) <= double(config.radius)) near.emplace_back(d2, j);
    }
    std::sort(near.begin(), near.end());
    capped += near.size() > std::size_t(config.maxNeighbours) ? 1 : 0;
    near.resize(std::min<std::size_t>(near.size(), std::size_t(config.maxNeighbours)));
    for (const auto& [d2, j] : near) expected.emplace_back(std::min(i, j), std::max(i, j));
  }
  std::sort(expected.begin(), expected.end());
  expected.erase(std::unique(expected.begin(), expected.end()), expected.end());
  REQUIRE(expected.size() > 500);
  REQUIRE(capped > 50);

  for (const ExecutionContext& ctx : contexts()) {
    INFO("device " << ctx.device.str());
    const trkaas::detail::RadiusGraphStage stage(config, ctx);
    const torch::Tensor p = torch::tensor(points).view({n, dim}).to(ctx.device);
    const torch::Tensor edges = stage.build(p, ctx);
    ctx.synchronize();
    CHECK(edges.device() == ctx.device);
    CHECK(toPairs(edges) == expected);
    // No points, one point: no edges.
    CHECK(stage.build(p.narrow(0, 0, 1), ctx).size(1) == 0);
    CHECK(stage.build(p.narrow(0, 0, 0), ctx).size(1) == 0);
  }
}

TEST_CASE("embedding stage: hits in chunks give the embedding of one call", "[pipeline][stage]") {
  const std::int64_t n = 100, f = 3;
  std::mt19937 rng(2);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<float> x(static_cast<std::size_t>(n * f));
  for (float& v : x) v = u(rng);
  for (const ExecutionContext& ctx : contexts()) {
    INFO("device " << ctx.device.str());
    const trkaas::detail::ScriptModel m(model("emb_good.pt"), ModelKind::kEmbedding, f, "emb",
                                        ctx.device);
    const torch::Tensor xT = torch::tensor(x).view({n, f}).to(ctx.device);
    const std::vector<float> whole = toFloats(trkaas::detail::NodeEmbedding(m, 0).embed(xT));
    REQUIRE(whole.size() == static_cast<std::size_t>(n * m.outputDim()));
    for (const std::int64_t chunk : {std::int64_t{1}, std::int64_t{7}, std::int64_t{64}}) {
      INFO("chunk " << chunk);
      const std::vector<float> parts = toFloats(trkaas::detail::NodeEmbedding(m, chunk).embed(xT));
      REQUIRE(parts.size() == whole.size());
      for (std::size_t i = 0; i < whole.size(); ++i)
        CHECK(parts[i] == Approx(whole[i]).margin(1e-6));
    }
  }
}

TEST_CASE("edge classification stage: the model's logits in any chunk, both directions averaged",
          "[pipeline][stage]") {
  const std::int64_t n = 60, f = 3;
  std::mt19937 rng(9);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<float> x(static_cast<std::size_t>(n * f));
  for (float& v : x) v = u(rng);
  const Pairs edges = randomEdges(n, 150, 4);
  const auto e = static_cast<std::int64_t>(edges.size());
  std::vector<std::int64_t> forward, backward;
  for (const auto& p : edges) forward.push_back(p.first), backward.push_back(p.second);
  for (const auto& p : edges) forward.push_back(p.second), backward.push_back(p.first);

  for (const char* name : {"edge_good.pt", "edge_column.pt", "edge_antisym.pt"}) {
    TorchModel::Config mc;
    mc.path = model(name);
    mc.kind = ModelKind::kEdgeClassifier;
    mc.numFeatures = f;
    mc.name = name;
    const TorchModel reference(mc);
    const std::vector<float> there = reference.classify(x.data(), n, forward.data(), e);
    const std::vector<float> back = reference.classify(x.data(), n, backward.data(), e);
    for (const ExecutionContext& ctx : contexts()) {
      const trkaas::detail::ScriptModel m(mc.path, mc.kind, f, name, ctx.device);
      const torch::Tensor xT = torch::tensor(x).view({n, f}).to(ctx.device);
      const torch::Tensor edgesT = toTensor(edges).to(ctx.device);
      for (const bool undirected : {false, true}) {
        for (const std::int64_t chunk : {std::int64_t{0}, std::int64_t{7}, std::int64_t{1000}}) {
          INFO(name << " on " << ctx.device.str() << (undirected ? " undirected" : " directed")
                    << ", chunk " << chunk);
          const float cut = 0.45f;
          const trkaas::detail::TorchScriptClassifier stage(m, cut, chunk, undirected);
          const std::vector<float> got = toFloats(stage.score(xT, edgesT, ctx));
          REQUIRE(got.size() == edges.size());
          Pairs keptExpected;
          std::vector<float> keptLogits;
          for (std::size_t i = 0; i < got.size(); ++i) {
            const float want = undirected ? 0.5f * (there[i] + back[i]) : there[i];
            CHECK(got[i] == Approx(want).margin(1e-5));
            if (1.0 / (1.0 + std::exp(-double(got[i]))) > cut) {
              keptExpected.push_back(edges[i]);
              keptLogits.push_back(got[i]);
            }
          }
          const auto [kept, logits] = stage.select(xT, edgesT, ctx);
          CHECK(toPairs(kept) == keptExpected);
          CHECK(toFloats(logits) == keptLogits);
        }
      }
      // No edges: no call, no logits.
      const trkaas::detail::TorchScriptClassifier stage(m, 0.5f, 0, false);
      CHECK(stage.score(xT, edgesT.narrow(1, 0, 0), ctx).numel() == 0);
    }
  }
}

TEST_CASE("track building stage: components, with junction removal on edges oriented outwards",
          "[pipeline][stage]") {
  // Hits on rays from the origin, and random edges with random scores: some hits get
  // several incoming or outgoing edges (junctions); some pairs at equal distance.
  const std::int64_t n = 300;
  std::mt19937 rng(23);
  std::uniform_real_distribution<float> coord(-500.f, 500.f);
  std::vector<float> xyz;
  for (std::int64_t i = 0; i < n; ++i) {
    const bool tie = i % 10 == 0;  // on a sphere of radius 100: equal distances
    xyz.insert(xyz.end(), {tie ? 100.f : coord(rng), 0.f, tie ? 0.f : coord(rng)});
  }
  const Pairs edges = randomEdges(n, 280, 3);
  std::normal_distribution<float> normal(0.f, 2.f);
  std::vector<float> scores;
  for (std::size_t i = 0; i < edges.size(); ++i) scores.push_back(normal(rng));
  // Expected orientation: from the hit nearer the origin (double), ties from the lower index.
  const auto dist2 = [&](std::int64_t i) {
    double s = 0;
    for (int d = 0; d < 3; ++d) s += double(xyz[3 * i + d]) * double(xyz[3 * i + d]);
    return s;
  };
  Pairs oriented;
  for (const auto& [a, b] : edges) {
    const bool swap = dist2(b) < dist2(a) || (dist2(b) == dist2(a) && b < a);
    oriented.emplace_back(swap ? b : a, swap ? a : b);
  }
  CHECK(toPairs(trkaas::detail::orientOutwardsTensor(torch::tensor(xyz).view({n, 3}),
                                                     toTensor(edges))) == oriented);
  // Junction removal: an edge survives when it is its source's best outgoing and its
  // target's best incoming edge (ties to the lower edge index).
  std::map<std::int64_t, std::size_t> bestOut, bestIn;
  for (std::size_t e = 0; e < oriented.size(); ++e) {
    const auto better = [&](std::map<std::int64_t, std::size_t>& best, std::int64_t hit) {
      const auto it = best.find(hit);
      if (it == best.end() || scores[e] > scores[it->second]) best[hit] = e;
    };
    better(bestOut, oriented[e].first);
    better(bestIn, oriented[e].second);
  }
  Pairs survivors;
  for (std::size_t e = 0; e < oriented.size(); ++e) {
    if (bestOut[oriented[e].first] == e && bestIn[oriented[e].second] == e) {
      survivors.push_back(oriented[e]);
    }
  }
  REQUIRE(survivors.size() < edges.size());

  for (const ExecutionContext& ctx : contexts()) {
    for (const bool junctions : {false, true}) {
      INFO("device " << ctx.device.str() << (junctions ? ", junction removal" : ""));
      TrackBuilder::Config config;
      config.minTrackSize = 3;
      config.junctionRemoval = junctions;
      const trkaas::detail::ComponentsStage stage(config, false);
      CHECK(stage.needsPositions() == junctions);
      const torch::Tensor labels =
          stage.labels(n, toTensor(edges).to(ctx.device), torch::tensor(scores).to(ctx.device),
                       torch::tensor(xyz).view({n, 3}).to(ctx.device), ctx, {}, {});
      ctx.synchronize();
      CHECK(toLongs(labels) == components(n, junctions ? survivors : edges, 3));
    }
    // The walk: on every device, TrackBuilder's walk over the edges oriented outwards.
    TrackBuilder::Config walk;
    walk.minTrackSize = 3;
    walk.method = TrackBuilder::Method::Walk;
    const trkaas::detail::ComponentsStage walkStage(walk, false);
    CHECK(walkStage.needsPositions());
    std::vector<std::int64_t> src, dst;
    for (const auto& [a, b] : oriented) {
      src.push_back(a);
      dst.push_back(b);
    }
    const std::vector<std::int64_t> expected = TrackBuilder(walk).build(
        n, src.data(), dst.data(), static_cast<std::int64_t>(src.size()), scores.data());
    const torch::Tensor walked =
        walkStage.labels(n, toTensor(edges).to(ctx.device), torch::tensor(scores).to(ctx.device),
                         torch::tensor(xyz).view({n, 3}).to(ctx.device), ctx, {}, {});
    ctx.synchronize();
    CHECK(walked.device() == ctx.device);
    CHECK(toLongs(walked) == expected);
    // The extension: the walk over the edges scored above 1, grown along all of them
    // (oriented outwards), for the walk and the components alike, on every device.
    std::vector<std::pair<std::int64_t, std::int64_t>> high;
    std::vector<float> highScores;
    std::vector<std::int64_t> hs, hd;
    for (std::size_t e = 0; e < edges.size(); ++e) {
      if (scores[e] <= 1.0f) continue;
      high.push_back(edges[e]);
      highScores.push_back(scores[e]);
      hs.push_back(oriented[e].first);
      hd.push_back(oriented[e].second);
    }
    REQUIRE(high.size() < edges.size());
    std::vector<float> xyzF(xyz.begin(), xyz.end());
    for (const auto method : {TrackBuilder::Method::Walk, TrackBuilder::Method::Components}) {
      TrackBuilder::Config c;
      c.minTrackSize = 3;
      c.method = method;
      std::vector<std::int64_t> want = TrackBuilder(c).build(
          n, hs.data(), hd.data(), static_cast<std::int64_t>(hs.size()), highScores.data());
      const std::vector<std::int64_t> plain = want;
      TrackBuilder::extend(want, xyzF.data(), src.data(), dst.data(),
                           static_cast<std::int64_t>(src.size()), scores.data());
      CHECK(want != plain);  // something grew
      const trkaas::detail::ComponentsStage extended(c, true);
      CHECK(extended.needsPositions());
      const torch::Tensor got = extended.labels(
          n, toTensor(high).to(ctx.device), torch::tensor(highScores).to(ctx.device),
          torch::tensor(xyz).view({n, 3}).to(ctx.device), ctx, toTensor(edges).to(ctx.device),
          torch::tensor(scores).to(ctx.device));
      ctx.synchronize();
      CHECK(got.device() == ctx.device);
      CHECK(toLongs(got) == want);
    }
  }
}

TEST_CASE("a batch's union gives each event the tracks and edge counts it gets alone",
          "[pipeline][stage]") {
  // Three events as the pipeline runs a batch: one union, components over all hits.
  const std::vector<std::int64_t> count = {40, 25, 60};
  std::vector<std::int64_t> first = {0};
  for (std::size_t k = 1; k < count.size(); ++k) first.push_back(first[k - 1] + count[k - 1]);
  const std::int64_t n = first.back() + count.back();
  Pairs unionEdges;
  std::vector<std::vector<std::int64_t>> alone;
  for (std::size_t k = 0; k < count.size(); ++k) {
    const Pairs e = randomEdges(count[k], static_cast<std::size_t>(count[k]) / 2,
                                static_cast<std::uint32_t>(k + 3));
    alone.push_back(components(count[k], e, 3));
    for (const auto& [a, b] : e) unionEdges.emplace_back(a + first[k], b + first[k]);
  }
  const std::vector<std::int64_t> all = components(n, unionEdges, 3);
  const auto split = trkaas::detail::splitUnionLabels(all.data(), first, count);
  REQUIRE(split.size() == count.size());
  for (std::size_t k = 0; k < count.size(); ++k) CHECK(split[k] == alone[k]);
  const std::vector<std::int64_t> perEvent =
      trkaas::detail::edgesPerEvent(toTensor(unionEdges), first, n);
  for (std::size_t k = 0; k < count.size(); ++k) {
    const auto expected = std::count_if(unionEdges.begin(), unionEdges.end(), [&](const auto& p) {
      return p.first >= first[k] && p.first < first[k] + count[k];
    });
    CHECK(perEvent[k] == expected);
  }
}
