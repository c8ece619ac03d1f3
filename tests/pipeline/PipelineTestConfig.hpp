#pragma once
// The small TorchScript test models (make_test_models.py, TRKAAS_TEST_MODELS) as one
// pipeline config, shared by the pipeline tests on the CPU and on CUDA.
#include <string>

#include "trkaas/pipeline/Pipeline.hpp"

namespace trkaas::test {

inline std::string testModel(const std::string& name) {
  return std::string(TRKAAS_TEST_MODELS) + "/" + name;
}

/// All volumes, radius 0.5, k 8, cuts of 0.01 (random models: keep most edges so that
/// tracks form), tracks of 2 hits and more.
inline PipelineConfig smallModelsConfig() {
  PipelineConfig c;
  c.embeddingModel = testModel("emb_good.pt");
  c.filterModel = testModel("edge_good.pt");
  c.gnnModel = testModel("edge_column.pt");
  c.graph.radius = 0.5f;
  c.graph.maxNeighbours = 8;
  c.filterCut = 0.01f;
  c.gnnCut = 0.01f;
  c.tracks.minTrackSize = 2;
  return c;
}

}  // namespace trkaas::test
