#include <algorithm>
#include <chrono>
#include <limits>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "Commands.hpp"
#include "GeneratorOptions.hpp"
#include "Progress.hpp"
#include "trkaas/core/Error.hpp"
#include "trkaas/core/Logger.hpp"
#include "trkaas/core/TextFile.hpp"
#include "trkaas/io/EventFile.hpp"
#include "trkaas/sim/Detector.hpp"
#include "trkaas/sim/EventGenerator.hpp"

namespace trkaas::app {

namespace {

struct GenerateOptions {
  std::string out;
  std::string configFile;
  std::string detectorPath;
  std::int64_t events = 10;
  std::int64_t firstEventId = 0;
  std::optional<double> pileup;
  std::optional<std::uint64_t> seed;
  std::optional<std::string> physics;
  std::vector<std::int32_t> volumes;
  bool pixelOnly = false;
  bool cells = false;
  bool hardScatter = false;
  bool fixedPileup = false;
  bool force = false;
  int threads = 0;
  int deflate = 1;
};

using Clock = std::chrono::steady_clock;

/// More generator threads than this is a typo, not a machine.
constexpr int kMaxThreads = 1024;

double secondsSince(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

void runGenerate(const GenerateOptions& o) {
  GeneratorConfig config;
  if (!o.configFile.empty()) applyGeneratorYaml(o.configFile, config);
  if (o.pileup) config.pileup = *o.pileup;
  if (o.seed) config.seed = *o.seed;
  if (o.physics) applyPhysicsLevel(*o.physics, config);
  if (o.hardScatter) config.hardScatter = true;
  if (o.fixedPileup) config.fixedPileup = true;
  if (o.pixelOnly) config.volumes = {7, 8, 9};
  if (o.cells) config.cells = true;
  if (!o.volumes.empty()) config.volumes = o.volumes;
  if (o.events <= 0) throw Error("--events must be positive, got " + std::to_string(o.events));
  if (o.firstEventId < 0 ||
      o.firstEventId > std::numeric_limits<std::int64_t>::max() - (o.events - 1)) {
    throw Error("--first-event-id must be >= 0 and leave room for " + std::to_string(o.events) +
                " ids, got " + std::to_string(o.firstEventId));
  }
  if (o.threads < 0 || o.threads > kMaxThreads) {
    throw Error("--threads must be between 1 and " + std::to_string(kMaxThreads) + ", got " +
                std::to_string(o.threads));
  }
  if (isDirectory(o.out)) throw Error("output '" + o.out + "' is a directory");
  if (fileExists(o.out) && !o.force) {
    throw Error("output '" + o.out + "' exists; use --force to overwrite it");
  }
  const std::string detectorPath =
      o.detectorPath.empty() ? Detector::defaultPath() : o.detectorPath;
  const auto t0 = Clock::now();
  auto detector = std::make_shared<const Detector>(Detector::load(detectorPath));
  EventGenerator generator(detector, config);
  const int threads = o.threads > 0 ? o.threads : std::max(1u, std::thread::hardware_concurrency());
  logger().info("generate {} events (ids {}..{}) -> {}", o.events, o.firstEventId,
                o.firstEventId + o.events - 1, o.out);
  logger().info("detector {} ({} modules), {} thread(s)", detectorPath, detector->size(), threads);
  logger().info("{}", describeGeneratorConfig(config));

  EventFileWriter::Config writerConfig;
  writerConfig.deflateLevel = o.deflate;
  EventFileWriter writer(o.out, writerConfig);
  Progress progress("generated", o.events);
  std::int64_t totalHits = 0;
  // Events are generated `threads` at a time and written in id order, so the file does
  // not depend on the thread count.
  std::vector<Event> batch(static_cast<std::size_t>(threads));
  std::vector<std::exception_ptr> errors(batch.size());
  for (std::int64_t begin = 0; begin < o.events; begin += threads) {
    const std::int64_t n = std::min<std::int64_t>(threads, o.events - begin);
    std::vector<std::thread> workers;
    for (std::int64_t k = 0; k < n; ++k) {
      workers.emplace_back([&, k] {
        try {
          batch[k] = generator.generate(o.firstEventId + begin + k);
        } catch (...) {
          errors[k] = std::current_exception();
        }
      });
    }
    for (auto& w : workers) w.join();
    for (std::int64_t k = 0; k < n; ++k) {
      if (errors[k]) std::rethrow_exception(errors[k]);
      totalHits += static_cast<std::int64_t>(batch[k].hits.size());
      writer.append(batch[k]);
      batch[k] = Event{};
    }
    const std::int64_t done = begin + n;
    progress.update(done,
                    fmt::format(" | {:.0f} hits/event", static_cast<double>(totalHits) / done));
  }
  writer.close();
  logger().info("wrote {} events, {} hits to {} in {:.1f} s ({:.3f} s/event on {} thread(s))",
                o.events, totalHits, o.out, secondsSince(t0), progress.elapsed() / o.events,
                threads);
}

}  // namespace

void addGenerateCommand(CLI::App& app) {
  auto o = std::make_shared<GenerateOptions>();
  CLI::App* cmd = app.add_subcommand(
      "generate",
      "Simulate collision events on the TrackML detector (pile-up vertices, helices in a 2 T "
      "solenoid, hits on the modules they cross, with truth) and write an HDF5 event file.\n"
      "The same seed and event ids give a byte-identical file, whatever the thread count.");
  cmd->add_option("--out,-o", o->out, "output event file (.h5)")->required();
  cmd->add_option("--events,-n", o->events, "number of events")->capture_default_str();
  cmd->add_option("--pileup", o->pileup,
                  "pile-up vertices per event (Poisson mean; default 200, or the config's)");
  cmd->add_option("--seed", o->seed, "master random seed (default 1, or the config's)");
  cmd->add_option("--first-event-id", o->firstEventId,
                  "id of the first event; the others follow (use distinct ranges per file)")
      ->capture_default_str();
  cmd->add_flag("--hard-scatter", o->hardScatter, "add a ttbar-like high-pT vertex per event");
  cmd->add_flag("--fixed-pileup", o->fixedPileup, "exactly --pileup vertices (no Poisson)");
  cmd->add_option("--volumes", o->volumes,
                  "detector volumes to simulate, e.g. 7,8,9 (default: all)")
      ->delimiter(',');
  cmd->add_flag("--pixel-only", o->pixelOnly, "pixel volumes only (7,8,9)");
  cmd->add_flag("--cells", o->cells,
                "write each hit's cells (its cluster from the crossing angle), as TrackML's "
                "cells.csv; needed by models with cell features (cell_count, lx, leta, ...)");
  cmd->add_option("--physics", o->physics,
                  "material physics: 'basic' (default; the events the shipped models were "
                  "trained on: multiple scattering only) or 'full' (adds ionisation energy "
                  "loss, delta electrons that leave hits, hadronic interactions with "
                  "secondaries, decays in flight, bremsstrahlung, species from measured LHC "
                  "ratios; docs/generator.md). The config's energy_loss, delta_electrons, "
                  "hadronic_interactions, decays, bremsstrahlung and measured_species keys "
                  "set them one by one");
  cmd->add_option("--config,-c", o->configFile,
                  "YAML file whose 'generator:' map sets any generator parameter "
                  "(command-line flags win)");
  cmd->add_option("--detector", o->detectorPath,
                  "TrackML detectors.csv(.gz) (default: the shipped one)");
  cmd->add_option("--threads,-j", o->threads, "generator threads (default: all cores)");
  cmd->add_option("--deflate", o->deflate, "HDF5 deflate level 0-9")->capture_default_str();
  cmd->add_flag("--force,-f", o->force, "overwrite the output file if it exists");
  cmd->callback([o] { runGenerate(*o); });
}

}  // namespace trkaas::app
