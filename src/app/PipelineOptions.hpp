#pragma once
// Options layer for the pipeline: models/pipeline.yaml (written by tools/train) fills a
// PipelineConfig; the pipeline never sees a parser.

#include <string>

#include "trkaas/pipeline/Pipeline.hpp"

namespace trkaas::app {

/// Reads a pipeline YAML. Model paths are relative to the YAML's directory. Unknown keys,
/// wrong types and missing required keys throw trkaas::Error naming the file and key.
PipelineConfig loadPipelineConfig(const std::string& path);

/// A few lines with the effective settings, for the log.
std::string describePipelineConfig(const PipelineConfig& config);

}  // namespace trkaas::app
