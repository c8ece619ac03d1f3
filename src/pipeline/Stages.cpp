/// The stages' device-independent code and their CPU implementations; the CUDA ones are in
/// CudaStages.cpp.
#include "Stages.hpp"

#include <algorithm>
#include <vector>

#include "PipelineCommon.hpp"
#include "TorchGraphOps.hpp"
#include "trkaas/core/Error.hpp"

namespace trkaas::detail {

void ExecutionContext::synchronize() const {
  if (stream) stream->synchronize();
}

std::pair<torch::Tensor, torch::Tensor> EdgeClassification::select(
    const torch::Tensor& x, const torch::Tensor& edges, const ExecutionContext& ctx) const {
  return keepAbove(edges, score(x, edges, ctx), logitCut(cut()));
}

torch::Tensor NodeEmbedding::embed(const torch::Tensor& x) const {
  const std::int64_t n = x.size(0);
  if (m_chunk <= 0 || n <= m_chunk) return m_model.forward(x);
  std::vector<torch::Tensor> parts;
  for (std::int64_t begin = 0; begin < n; begin += m_chunk) {
    parts.push_back(m_model.forward(x.narrow(0, begin, std::min(m_chunk, n - begin))));
  }
  return torch::cat(parts);
}

// ---- RadiusGraphStage ------------------------------------------------------------------

namespace {

device::GridRadiusGraph::Config deviceGraphConfig(const GraphBuilder::Config& c) {
  device::GridRadiusGraph::Config g;
  g.radius = c.radius;
  g.maxNeighbours = c.maxNeighbours;
  g.gridDims = c.gridDims;
  return g;
}

device::ConnectedComponents::Config deviceComponentsConfig(const TrackBuilder::Config& c) {
  device::ConnectedComponents::Config cc;
  cc.minTrackSize = c.minTrackSize;
  cc.junctionRemoval = c.junctionRemoval;
  return cc;
}

}  // namespace

RadiusGraphStage::RadiusGraphStage(const GraphBuilder::Config& config, const ExecutionContext& ctx)
    : m_cpu(config) {
  if (ctx.onCuda()) {
    if (config.backend == GraphBuilder::Backend::kFaiss) {
      throw Error(
          "pipeline: the FAISS radius graph runs on the CPU only; on a GPU the grid backend "
          "builds the same edges (graph.backend: grid)");
    }
    m_cuda.emplace(deviceGraphConfig(config));
  }
}

torch::Tensor RadiusGraphStage::build(const torch::Tensor& points,
                                      const ExecutionContext& ctx) const {
  if (points.is_cuda()) {
    if (!m_cuda) throw Error("pipeline: radius graph stage made for the CPU got CUDA points");
    return cudaRadiusGraph(*m_cuda, points, ctx);
  }
  const EdgeList g = m_cpu.build(points.data_ptr<float>(), points.size(0), points.size(1));
  const auto e = static_cast<std::int64_t>(g.size());
  torch::Tensor edges = torch::empty({2, e}, torch::kInt64);
  std::copy(g.src.begin(), g.src.end(), edges.data_ptr<std::int64_t>());
  std::copy(g.dst.begin(), g.dst.end(), edges.data_ptr<std::int64_t>() + e);
  return edges;
}

// ---- TorchScriptClassifier -------------------------------------------------------------

TorchScriptClassifier::TorchScriptClassifier(const ScriptModel& model, float cut,
                                             std::int64_t chunk, bool undirected)
    : m_model(model), m_cut(cut), m_chunk(chunk), m_undirected(undirected) {
  if (m_model.kind() != ModelKind::kEdgeClassifier) {
    throw Error("pipeline: model '" + m_model.name() + "' is not an edge classifier");
  }
  if (!(cut > 0.0f && cut < 1.0f)) throw Error("pipeline: a cut must lie strictly in (0, 1)");
  if (chunk < 0) throw Error("pipeline: an edge chunk must be >= 0 (0: one call)");
}

torch::Tensor TorchScriptClassifier::score(const torch::Tensor& x, const torch::Tensor& edges,
                                           const ExecutionContext& ctx) const {
  const std::int64_t total = edges.size(1);
  const auto logitsOf = [&](const torch::Tensor& part) {
    const std::int64_t e = part.size(1);
    if (!m_undirected) return m_model.forward(x, part.contiguous());
    const torch::Tensor both = m_model.forward(x, torch::cat({part, part.flip({0})}, 1));
    return (both.narrow(0, 0, e) + both.narrow(0, e, e)) * 0.5;
  };
  if (total == 0) return torch::empty({0}, ctx.floats());
  if (m_chunk == 0 || total <= m_chunk) return logitsOf(edges);
  std::vector<torch::Tensor> parts;
  for (std::int64_t begin = 0; begin < total; begin += m_chunk) {
    parts.push_back(logitsOf(edges.narrow(1, begin, std::min(m_chunk, total - begin))));
  }
  return torch::cat(parts);
}

// ---- ComponentsStage -------------------------------------------------------------------

ComponentsStage::ComponentsStage(const TrackBuilder::Config& config, bool extend)
    : m_cpu(config), m_extend(extend), m_cuda(deviceComponentsConfig(config)) {}

torch::Tensor ComponentsStage::labels(std::int64_t n, const torch::Tensor& edges,
                                      const torch::Tensor& scores, const torch::Tensor& xyz,
                                      const ExecutionContext& ctx, const torch::Tensor& grow,
                                      const torch::Tensor& growScores) const {
  const bool junctions = m_cpu.config().junctionRemoval;
  const bool walk = m_cpu.config().method == TrackBuilder::Method::Walk;
  // Junction removal and the walk follow edges from the hit nearer the origin to the
  // farther one (along the particle's flight, in the barrel and in the endcaps alike).
  const bool oriented = junctions || walk;
  const torch::Tensor directed = oriented ? orientOutwardsTensor(xyz, edges) : edges;
  const double stitchXy = m_cpu.config().stitchMaxXy, stitchZ = m_cpu.config().stitchMaxZ;
  const bool stitch = stitchXy > 0.0;
  if (directed.is_cuda() && !walk && !m_extend && !stitch) {
    return cudaComponents(m_cuda, n, directed.select(0, 0).contiguous(),
                          directed.select(0, 1).contiguous(),
                          junctions ? scores.contiguous() : torch::Tensor(), ctx);
  }
  const torch::Tensor hostEdges = directed.cpu();
  const torch::Tensor src = hostEdges.select(0, 0).contiguous();
  const torch::Tensor dst = hostEdges.select(0, 1).contiguous();
  const torch::Tensor s =
      oriented ? scores.to(torch::kCPU, torch::kFloat32).contiguous() : torch::Tensor();
  // Positions on the host only for the walk's turn limit, the extension and the stitching.
  const bool hostPositions = m_extend || stitch || m_cpu.config().maxTurn > 0.0;
  const torch::Tensor p =
      hostPositions ? xyz.to(torch::kCPU, torch::kFloat32).contiguous() : torch::Tensor();
  std::vector<std::int64_t> labels = m_cpu.build(
      n, src.data_ptr<std::int64_t>(), dst.data_ptr<std::int64_t>(), src.numel(),
      oriented ? s.data_ptr<float>() : nullptr, p.defined() ? p.data_ptr<float>() : nullptr);
  if (m_extend) {
    if (!grow.defined()) throw Error("pipeline: the track extension got no edges to grow along");
    const torch::Tensor g = orientOutwardsTensor(xyz, grow).cpu();
    const torch::Tensor gs = g.select(0, 0).contiguous(), gd = g.select(0, 1).contiguous();
    const torch::Tensor w = growScores.to(torch::kCPU, torch::kFloat32).contiguous();
    TrackBuilder::extend(labels, p.data_ptr<float>(), gs.data_ptr<std::int64_t>(),
                         gd.data_ptr<std::int64_t>(), gs.numel(), w.data_ptr<float>());
  }
  if (stitch) {
    // The pieces: the same builder, down to kStitchMinPiece hits, along the kept edges
    // between hits still without a track.
    std::vector<std::int64_t> ps, pd;
    std::vector<float> pw;
    const std::int64_t* es = src.data_ptr<std::int64_t>();
    const std::int64_t* ed = dst.data_ptr<std::int64_t>();
    const float* ew = oriented ? s.data_ptr<float>() : nullptr;
    for (std::int64_t e = 0; e < src.numel(); ++e) {
      if (labels[es[e]] >= 0 || labels[ed[e]] >= 0) continue;
      ps.push_back(es[e]);
      pd.push_back(ed[e]);
      if (ew != nullptr) pw.push_back(ew[e]);
    }
    TrackBuilder::Config pieceConfig = m_cpu.config();
    pieceConfig.minTrackSize = TrackBuilder::kStitchMinPiece;
    pieceConfig.stitchMaxXy = pieceConfig.stitchMaxZ = 0.0;
    const std::vector<std::int64_t> pieces =
        TrackBuilder(pieceConfig)
            .build(n, ps.data(), pd.data(), static_cast<std::int64_t>(ps.size()),
                   ew != nullptr ? pw.data() : nullptr, p.data_ptr<float>());
    labels = TrackBuilder::stitch(labels, pieces, p.data_ptr<float>(), stitchXy, stitchZ,
                                  m_cpu.config().minTrackSize);
  }
  if (directed.is_cuda()) return torch::tensor(labels, torch::kInt64).to(directed.device());
  return torch::tensor(labels, torch::kInt64);
}

}  // namespace trkaas::detail
