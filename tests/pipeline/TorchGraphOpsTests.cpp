// The GPU pipeline's graph steps (TorchGraphOps: torch operations on [2, E] edge tensors)
// run here on CPU tensors against the CPU pipeline's own steps: so the logic that
// GpuPipeline runs on CUDA tensors is checked without a GPU.
#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "PipelineCommon.hpp"
#include "TorchGraphOps.hpp"
#include "TrkaasCatch.hpp"
#include "trkaas/pipeline/TorchModel.hpp"
#include "trkaas/pipeline/TrackBuilder.hpp"

using namespace trkaas;

namespace {

torch::Tensor toTensor(const EdgeList& e) {
  std::vector<std::int64_t> flat = e.src;
  flat.insert(flat.end(), e.dst.begin(), e.dst.end());
  return torch::tensor(flat, torch::kInt64).view({2, static_cast<std::int64_t>(e.size())});
}

EdgeList toEdges(const torch::Tensor& t) {
  EdgeList e;
  const torch::Tensor c = t.contiguous();
  const std::int64_t n = c.size(1);
  const std::int64_t* p = c.data_ptr<std::int64_t>();
  e.src.assign(p, p + n);
  e.dst.assign(p + n, p + 2 * n);
  return e;
}

/// Random undirected edges (i < j, sorted by i then j, no duplicates) among n hits.
EdgeList randomEdges(std::int64_t n, std::size_t count, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<std::int64_t> hit(0, n - 1);
  std::vector<std::pair<std::int64_t, std::int64_t>> pairs;
  while (pairs.size() < count) {
    std::int64_t a = hit(rng), b = hit(rng);
    if (a == b) continue;
    pairs.emplace_back(std::min(a, b), std::max(a, b));
  }
  std::sort(pairs.begin(), pairs.end());
  pairs.erase(std::unique(pairs.begin(), pairs.end()), pairs.end());
  EdgeList e;
  for (const auto& [a, b] : pairs) {
    e.src.push_back(a);
    e.dst.push_back(b);
  }
  return e;
}

}  // namespace

TEST_CASE("torch graph ops: orientation and cuts as the CPU pipeline's", "[pipeline][gpu-logic]") {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> coord(-500.f, 500.f);
  Hits hits;
  const std::int64_t n = 200;
  for (std::int64_t i = 0; i < n; ++i) {
    // Some hits at exactly the same distance from the origin: the tie rule matters.
    const float x = i % 10 == 0 ? 100.f : coord(rng), y = i % 10 == 0 ? 0.f : coord(rng);
    const float z = i % 10 == 0 ? 0.f : coord(rng);
    hits.push_back(i + 1000, x, y, z, 8, 2, 1);
  }
  EdgeList edges = randomEdges(n, 900, 11);
  // Ties at equal distance, both orders of the indices.
  edges.src.push_back(20);
  edges.dst.push_back(10);
  edges.src.push_back(30);
  edges.dst.push_back(40);
  std::vector<float> xyz;
  for (std::int64_t i = 0; i < n; ++i) xyz.insert(xyz.end(), {hits.x[i], hits.y[i], hits.z[i]});
  const torch::Tensor xyzT = torch::tensor(xyz).view({n, 3});

  const EdgeList expected = trkaas::detail::orientOutwards(edges, hits);
  const EdgeList got = toEdges(trkaas::detail::orientOutwardsTensor(xyzT, toTensor(edges)));
  CHECK(got.src == expected.src);
  CHECK(got.dst == expected.dst);

  std::vector<float> logits;
  std::normal_distribution<float> normal(0.f, 2.f);
  for (std::size_t e = 0; e < edges.size(); ++e) logits.push_back(normal(rng));
  std::vector<float> keptExpected;
  const EdgeList keepExpected = trkaas::detail::keep(edges, logits, 0.3f, &keptExpected);
  const auto [keptT, scoresT] =
      trkaas::detail::keepAbove(toTensor(edges), torch::tensor(logits), 0.3f);
  const EdgeList kept = toEdges(keptT);
  CHECK(kept.src == keepExpected.src);
  CHECK(kept.dst == keepExpected.dst);
  const torch::Tensor s = scoresT.contiguous();
  CHECK(std::vector<float>(s.data_ptr<float>(), s.data_ptr<float>() + s.numel()) == keptExpected);
}

TEST_CASE("torch graph ops: edge classifier logits as TorchModel gives them",
          "[pipeline][gpu-logic]") {
  const std::int64_t n = 50, f = 3;
  std::mt19937 rng(9);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<float> x(static_cast<std::size_t>(n * f));
  for (float& v : x) v = u(rng);
  const EdgeList edges = randomEdges(n, 120, 4);
  const torch::Tensor xT = torch::tensor(x).view({n, f});
  for (const char* name : {"edge_good.pt", "edge_column.pt", "edge_antisym.pt"}) {
    TorchModel::Config c;
    c.path = std::string(TRKAAS_TEST_MODELS) + "/" + name;
    c.kind = ModelKind::kEdgeClassifier;
    c.numFeatures = f;
    c.name = name;
    const TorchModel model(c);
    torch::jit::Module module = torch::jit::load(c.path);
    module.eval();
    const torch::NoGradGuard noGrad;
    for (const bool undirected : {false, true}) {
      INFO(name << (undirected ? " undirected" : " directed"));
      // Expected: the CPU pipeline's way, TorchModel on both directions, averaged.
      std::vector<std::int64_t> forward = edges.src, backward = edges.dst;
      forward.insert(forward.end(), edges.dst.begin(), edges.dst.end());
      backward.insert(backward.end(), edges.src.begin(), edges.src.end());
      const auto e = static_cast<std::int64_t>(edges.size());
      std::vector<float> expected = model.classify(x.data(), n, forward.data(), e);
      if (undirected) {
        const std::vector<float> back = model.classify(x.data(), n, backward.data(), e);
        for (std::size_t i = 0; i < expected.size(); ++i) {
          expected[i] = 0.5f * (expected[i] + back[i]);
        }
      }
      const torch::Tensor got =
          trkaas::detail::classifyEdgeTensor(module, xT, toTensor(edges), undirected);
      REQUIRE(got.numel() == e);
      for (std::int64_t i = 0; i < e; ++i) {
        CHECK(got[i].item<float>() == Approx(expected[static_cast<std::size_t>(i)]).margin(1e-5));
      }
    }
  }
}

TEST_CASE("torch graph ops: a batch's union gives each event the tracks it gets alone",
          "[pipeline][gpu-logic]") {
  // Three events, as the GPU pipeline runs them: one union, components over all hits.
  const std::vector<std::int64_t> count = {40, 25, 60};
  std::vector<std::int64_t> first = {0};
  for (std::size_t k = 1; k < count.size(); ++k) first.push_back(first[k - 1] + count[k - 1]);
  const std::int64_t n = first.back() + count.back();
  const TrackBuilder builder(TrackBuilder::Config{});  // min size 3, no junction removal
  EdgeList unionEdges;
  std::vector<std::vector<std::int64_t>> alone;
  for (std::size_t k = 0; k < count.size(); ++k) {
    const EdgeList e = randomEdges(count[k], static_cast<std::size_t>(count[k]) / 2,
                                   static_cast<std::uint32_t>(k + 3));
    alone.push_back(builder.build(count[k], e.src.data(), e.dst.data(),
                                  static_cast<std::int64_t>(e.size()), nullptr));
    for (std::size_t i = 0; i < e.size(); ++i) {
      unionEdges.src.push_back(e.src[i] + first[k]);
      unionEdges.dst.push_back(e.dst[i] + first[k]);
    }
  }
  const std::vector<std::int64_t> all =
      builder.build(n, unionEdges.src.data(), unionEdges.dst.data(),
                    static_cast<std::int64_t>(unionEdges.size()), nullptr);
  const auto split = trkaas::detail::splitUnionLabels(all.data(), first, count);
  REQUIRE(split.size() == count.size());
  for (std::size_t k = 0; k < count.size(); ++k) CHECK(split[k] == alone[k]);
  // Edges per event of the union, from its sorted sources.
  const std::vector<std::int64_t> perEvent =
      trkaas::detail::edgesPerEvent(toTensor(unionEdges), first, n);
  for (std::size_t k = 0; k < count.size(); ++k) {
    const auto expected = std::count_if(unionEdges.src.begin(), unionEdges.src.end(), [&](auto s) {
      return s >= first[k] && s < first[k] + count[k];
    });
    CHECK(perEvent[k] == expected);
  }
}
