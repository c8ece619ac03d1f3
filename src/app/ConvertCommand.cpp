#include <sys/stat.h>

#include <chrono>
#include <memory>

#include "Commands.hpp"
#include "Progress.hpp"
#include "trkaas/core/Error.hpp"
#include "trkaas/core/Logger.hpp"
#include "trkaas/core/TextFile.hpp"
#include "trkaas/io/EventFile.hpp"
#include "trkaas/io/TrackMLCsv.hpp"
#include "trkaas/io/TracksFile.hpp"

namespace trkaas::app {

namespace {

struct ConvertOptions {
  std::string input;
  std::string output;
  bool gzip = false;
  bool keepGoing = false;
  bool force = false;
  int deflate = 1;
};

bool endsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

void refuseToOverwrite(const ConvertOptions& o) {
  if (isDirectory(o.output)) throw Error("output '" + o.output + "' is a directory");
  if (fileExists(o.output) && !o.force) {
    throw Error("output '" + o.output + "' exists; use --force to overwrite it");
  }
}

/// With --keep-going a bad event is logged and counted; otherwise its error ends the run.
void skipOrRethrow(const ConvertOptions& o, const InputError& e, std::size_t& skipped) {
  if (!o.keepGoing) throw e;
  logger().error("skipped: {}", e.what());
  ++skipped;
}

void trackmlToEvents(const ConvertOptions& o) {
  refuseToOverwrite(o);
  std::vector<std::string> prefixes;
  if (isDirectory(o.input)) {
    prefixes = findTrackMLEvents(o.input);
    if (prefixes.empty()) {
      throw InputError(o.input, InputError::kNoEvent,
                       "no TrackML events (eventNNNNNNNNN-hits.csv[.gz]) in this directory");
    }
  } else {
    prefixes.push_back(o.input);
  }
  logger().info("convert {} TrackML event(s) from {} -> {}", prefixes.size(), o.input, o.output);
  EventFileWriter::Config config;
  config.deflateLevel = o.deflate;
  EventFileWriter writer(o.output, config);
  Progress progress("processed", static_cast<std::int64_t>(prefixes.size()));
  std::size_t skipped = 0;
  for (std::size_t i = 0; i < prefixes.size(); ++i) {
    try {
      const Event event = readTrackMLEvent(prefixes[i]);
      try {
        writer.append(event);
      } catch (const InputError& e) {
        // The problem lies in this input event, not in the output file.
        throw InputError(prefixes[i], e.event(), e.reason());
      }
    } catch (const InputError& e) {
      skipOrRethrow(o, e, skipped);
    }
    progress.update(static_cast<std::int64_t>(i + 1));
  }
  writer.close();
  if (skipped > 0) {
    throw Error("wrote " + std::to_string(writer.numEvents()) + " events to '" + o.output +
                "' but skipped " + std::to_string(skipped) + " (errors above)");
  }
  logger().info("wrote {} events to {}", writer.numEvents(), o.output);
}

void eventsToTrackml(const ConvertOptions& o) {
  EventFileReader reader(o.input);
  if (fileExists(o.output)) {
    throw Error("output '" + o.output + "' is a file; TrackML export needs a directory");
  }
  logger().info("export {} events from {} -> TrackML CSV in {}/{}", reader.numEvents(), o.input,
                o.output, o.gzip ? " (gzip)" : "");
  Progress progress("processed", static_cast<std::int64_t>(reader.numEvents()));
  std::size_t skipped = 0;
  for (std::size_t i = 0; i < reader.numEvents(); ++i) {
    try {
      writeTrackMLEvent(reader.read(i), o.output, o.gzip);
    } catch (const InputError& e) {
      skipOrRethrow(o, e, skipped);
    }
    progress.update(static_cast<std::int64_t>(i + 1));
  }
  if (skipped > 0) {
    throw Error("exported " + std::to_string(reader.numEvents() - skipped) +
                " events but skipped " + std::to_string(skipped) + " (errors above)");
  }
}

void tracksToSubmission(const ConvertOptions& o) {
  refuseToOverwrite(o);
  TracksFileReader reader(o.input);
  const bool gzip = o.gzip || endsWith(o.output, ".gz");
  logger().info("write TrackML submission for {} events from {} -> {}", reader.numEvents(), o.input,
                o.output);
  TrackMLSubmissionWriter writer(o.output, gzip);
  Progress progress("wrote", static_cast<std::int64_t>(reader.numEvents()));
  for (std::size_t i = 0; i < reader.numEvents(); ++i) {
    writer.write(reader.read(i));
    progress.update(static_cast<std::int64_t>(i + 1));
  }
  writer.close();
}

void runConvert(const ConvertOptions& o) {
  if (isDirectory(o.input) || !endsWith(o.input, ".h5")) {
    if (!endsWith(o.output, ".h5")) {
      throw Error("convert: TrackML input needs an .h5 output, got '" + o.output + "'");
    }
    trackmlToEvents(o);
    return;
  }
  const std::string format = readFileFormat(o.input);
  if (format == kEventFileFormat) {
    eventsToTrackml(o);
  } else if (format == kTracksFileFormat) {
    tracksToSubmission(o);
  } else {
    throw InputError(o.input, InputError::kNoEvent, "unknown trkaas file format '" + format + "'");
  }
}

}  // namespace

void addConvertCommand(CLI::App& app) {
  auto o = std::make_shared<ConvertOptions>();
  CLI::App* cmd = app.add_subcommand(
      "convert",
      "Convert between TrackML CSV and trkaas files. The direction follows the input:\n"
      "  TrackML directory (or one event's prefix/hits file) -> event file (.h5)\n"
      "  event file (.h5)  -> directory of TrackML CSV files (eventNNNNNNNNN-hits.csv, ...)\n"
      "  tracks file (.h5) -> TrackML submission CSV (event_id,hit_id,track_id)\n"
      "Hit ids and every value are kept. A bad event stops the conversion with a message "
      "naming file and event, unless --keep-going.");
  cmd->add_option("input", o->input, "TrackML directory/prefix, event file or tracks file")
      ->required();
  cmd->add_option("output", o->output, "event file (.h5), CSV directory or submission CSV")
      ->required();
  cmd->add_flag("--gzip", o->gzip, "write .csv.gz (a submission ending in .gz is always gzip)");
  cmd->add_flag("--keep-going", o->keepGoing,
                "skip bad events, log each, and fail at the end naming how many were skipped");
  cmd->add_option("--deflate", o->deflate, "HDF5 deflate level 0-9 for event files")
      ->capture_default_str();
  cmd->add_flag("--force,-f", o->force, "overwrite an existing output file");
  cmd->callback([o] { runConvert(*o); });
}

}  // namespace trkaas::app
