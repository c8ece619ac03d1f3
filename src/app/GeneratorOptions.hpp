#pragma once
// Options layer for the event generator: YAML keys and command-line flags fill a
// GeneratorConfig; the generator itself never sees a parser.

#include <string>

#include "trkaas/sim/EventGenerator.hpp"

namespace trkaas::app {

/// Applies the `generator:` map of a YAML file onto `config` (keys in snake_case, as in
/// config/generate.yaml). `physics: basic|full` is applied first, so that the single
/// switches (energy_loss, delta_electrons, hadronic_interactions, decays,
/// bremsstrahlung, measured_species) refine it. An unknown key, a
/// value of the wrong type or a missing file throws trkaas::Error naming the file and the key.
void applyGeneratorYaml(const std::string& path, GeneratorConfig& config);

/// Sets the material-physics switches of `config` from a level: "basic" (none: the events
/// the shipped models were trained on, the default) or "full" (energy loss, delta
/// electrons, hadronic interactions, decays in flight, bremsstrahlung, measured species
/// mix; docs/generator.md). Throws
/// trkaas::Error otherwise.
void applyPhysicsLevel(const std::string& level, GeneratorConfig& config);

/// The physics levels applyPhysicsLevel knows, for help texts.
inline constexpr const char* kPhysicsLevels = "basic, full";

/// One line with the settings that shape the sample, for the log.
std::string describeGeneratorConfig(const GeneratorConfig& config);

}  // namespace trkaas::app
