#include "GeneratorOptions.hpp"

#include <yaml-cpp/yaml.h>

#include <functional>
#include <map>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "trkaas/core/Error.hpp"

namespace trkaas::app {

namespace {

using Setter = std::function<void(const YAML::Node&)>;

template <class T>
Setter set(T& field) {
  return [&field](const YAML::Node& node) { field = node.as<T>(); };
}

std::map<std::string, Setter> generatorKeys(GeneratorConfig& c) {
  return {
      {"pileup", set(c.pileup)},
      {"fixed_pileup", set(c.fixedPileup)},
      {"hard_scatter", set(c.hardScatter)},
      {"hard_scatter_particles", set(c.hardScatterParticles)},
      {"hard_scatter_pt_min", set(c.hardScatterPtMin)},
      {"hard_scatter_pt_mean", set(c.hardScatterPtMean)},
      {"hard_scatter_eta_max", set(c.hardScatterEtaMax)},
      {"seed", set(c.seed)},
      {"volumes", set(c.volumes)},
      {"particles_per_vertex", set(c.particlesPerVertex)},
      {"eta_max", set(c.etaMax)},
      {"pt_spectrum_p0", set(c.spectrum.p0)},
      {"pt_spectrum_n", set(c.spectrum.n)},
      {"pt_min", set(c.spectrum.ptMin)},
      {"pt_max", set(c.spectrum.ptMax)},
      {"beam_sigma_z", set(c.beamSigmaZ)},
      {"beam_sigma_t", set(c.beamSigmaT)},
      {"b_field", set(c.bField)},
      {"hit_inefficiency", set(c.hitInefficiency)},
      {"noise_fraction", set(c.noiseFraction)},
      {"multiple_scattering", set(c.multipleScattering)},
      {"cells", set(c.cells)},
      {"support_material", set(c.supportMaterial)},
      {"step_length", set(c.stepLength)},
      {"max_turns", set(c.maxTurns)},
      {"max_path_length", set(c.maxPathLength)},
      {"envelope_r", set(c.envelopeR)},
      {"envelope_z", set(c.envelopeZ)},
      {"energy_loss", set(c.energyLoss)},
      {"delta_electrons", set(c.deltaElectrons)},
      {"delta_electron_min_energy", set(c.deltaElectronMinEnergy)},
      {"hadronic_interactions", set(c.hadronicInteractions)},
      {"decays", set(c.decays)},
      {"bremsstrahlung", set(c.bremsstrahlung)},
      {"measured_species", set(c.measuredSpecies)},
      {"physics", [](const YAML::Node&) {}},  // applied before the others
  };
}

}  // namespace

void applyGeneratorYaml(const std::string& path, GeneratorConfig& config) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    throw Error("config '" + path + "': cannot open the file");
  } catch (const YAML::Exception& e) {
    throw Error("config '" + path + "': not valid YAML: " + e.what());
  }
  const YAML::Node section = root["generator"];
  if (!section) return;
  if (!section.IsMap()) throw Error("config '" + path + "': 'generator' must be a map");
  if (const YAML::Node physics = section["physics"]) {
    std::string level;
    try {
      level = physics.as<std::string>();
    } catch (const YAML::Exception&) {
      throw Error("config '" + path + "': generator.physics must be a string");
    }
    try {
      applyPhysicsLevel(level, config);
    } catch (const Error& e) {
      throw Error("config '" + path + "': generator." + e.what());
    }
  }
  auto keys = generatorKeys(config);
  for (const auto& item : section) {
    const std::string key = item.first.as<std::string>();
    const auto it = keys.find(key);
    if (it == keys.end()) {
      std::string known;
      for (const auto& [name, setter] : keys) known += (known.empty() ? "" : ", ") + name;
      throw Error("config '" + path + "': unknown key generator." + key + " (known: " + known +
                  ")");
    }
    try {
      it->second(item.second);
    } catch (const YAML::Exception&) {
      throw Error("config '" + path + "': generator." + key + " has a value of the wrong type");
    }
  }
}

void applyPhysicsLevel(const std::string& level, GeneratorConfig& config) {
  bool on = false;
  if (level == "full") {
    on = true;
  } else if (level != "basic") {
    throw Error("physics must be one of " + std::string(kPhysicsLevels) + " (got '" + level + "')");
  }
  config.energyLoss = on;
  config.deltaElectrons = on;
  config.hadronicInteractions = on;
  config.decays = on;
  config.bremsstrahlung = on;
  config.measuredSpecies = on;
}

std::string describeGeneratorConfig(const GeneratorConfig& c) {
  return fmt::format(
      "pile-up {}{}, hard scatter {}, seed {}, volumes {}, B {} T, inefficiency {}, noise {}, "
      "multiple scattering {}, energy loss {}, delta electrons {}, hadronic interactions {}, "
      "decays {}, bremsstrahlung {}, measured species {}",
      c.pileup, c.fixedPileup ? " (fixed)" : " (Poisson mean)", c.hardScatter ? "on" : "off",
      c.seed, c.volumes.empty() ? std::string("all") : fmt::format("{}", fmt::join(c.volumes, ",")),
      c.bField, c.hitInefficiency, c.noiseFraction, c.multipleScattering ? "on" : "off",
      c.energyLoss ? "on" : "off", c.deltaElectrons ? "on" : "off",
      c.hadronicInteractions ? "on" : "off", c.decays ? "on" : "off",
      c.bremsstrahlung ? "on" : "off", c.measuredSpecies ? "on" : "off");
}

}  // namespace trkaas::app
