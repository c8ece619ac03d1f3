#pragma once
// Options layer for the event generator: YAML keys and command-line flags fill a
// GeneratorConfig; the generator itself never sees a parser.

#include <string>

#include "trkaas/sim/EventGenerator.hpp"

namespace trkaas::app {

/// Applies the `generator:` map of a YAML file onto `config` (keys in snake_case, as in
/// config/generate.yaml). An unknown key, a value of the wrong type or a missing file
/// throws trkaas::Error naming the file and the key.
void applyGeneratorYaml(const std::string& path, GeneratorConfig& config);

/// One line with the settings that shape the sample, for the log.
std::string describeGeneratorConfig(const GeneratorConfig& config);

}  // namespace trkaas::app
