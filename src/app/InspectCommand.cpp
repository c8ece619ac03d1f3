#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "Commands.hpp"
#include "Progress.hpp"
#include "trkaas/core/Error.hpp"
#include "trkaas/core/Logger.hpp"
#include "trkaas/io/EventFile.hpp"
#include "trkaas/io/TracksFile.hpp"

namespace trkaas::app {

namespace {

struct InspectOptions {
  std::string path;
  bool json = false;
  bool perEvent = false;
};

/// Running minimum, mean and maximum.
struct Stat {
  double sum = 0, min = 0, max = 0;
  std::int64_t n = 0;
  void add(double v) {
    min = n == 0 ? v : std::min(min, v);
    max = n == 0 ? v : std::max(max, v);
    sum += v;
    ++n;
  }
  double mean() const { return n == 0 ? 0.0 : sum / static_cast<double>(n); }
  nlohmann::json toJson() const { return {{"mean", mean()}, {"min", min}, {"max", max}}; }
  std::string text() const {
    return fmt::format("{:.1f} (min {:.0f}, max {:.0f})", mean(), min, max);
  }
};

const char* volumeName(std::int32_t volume) {
  switch (volume) {
    case 7:
      return "pixel end-cap (-z)";
    case 8:
      return "pixel barrel";
    case 9:
      return "pixel end-cap (+z)";
    case 12:
      return "short-strip end-cap (-z)";
    case 13:
      return "short-strip barrel";
    case 14:
      return "short-strip end-cap (+z)";
    case 16:
      return "long-strip end-cap (-z)";
    case 17:
      return "long-strip barrel";
    case 18:
      return "long-strip end-cap (+z)";
    default:
      return "";
  }
}

std::int64_t fileSize(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<std::int64_t>(st.st_size) : -1;
}

nlohmann::json inspectEvents(const InspectOptions& o) {
  EventFileReader reader(o.path);
  const std::size_t n = reader.numEvents();
  Stat hits, particles, highPt, noise, cells;
  std::map<std::int32_t, double> hitsPerVolume;
  nlohmann::json events = nlohmann::json::array();
  Progress progress("read", static_cast<std::int64_t>(n));
  for (std::size_t i = 0; i < n; ++i) {
    const Event e = reader.read(i);
    if (n > 100) progress.update(static_cast<std::int64_t>(i + 1));
    hits.add(static_cast<double>(e.hits.size()));
    for (std::int32_t v : e.hits.volumeId) hitsPerVolume[v] += 1.0;
    std::int64_t nHighPt = 0;
    for (std::size_t p = 0; p < e.particles.size(); ++p) {
      if (particlePt(e.particles, p) > 1.0f) ++nHighPt;
    }
    if (e.hasParticles()) {
      particles.add(static_cast<double>(e.particles.size()));
      highPt.add(static_cast<double>(nHighPt));
    }
    if (e.hasTruth()) {
      noise.add(
          static_cast<double>(std::count(e.truth.particleId.begin(), e.truth.particleId.end(), 0)));
    }
    if (e.hasCells()) cells.add(static_cast<double>(e.cells.size()));
    if (o.perEvent) {
      events.push_back({{"event_id", e.eventId},
                        {"hits", e.hits.size()},
                        {"particles", e.particles.size()},
                        {"particles_pt_gt_1gev", nHighPt}});
    }
  }
  const std::int64_t bytes = fileSize(o.path);
  nlohmann::json j = {{"file", o.path},
                      {"format", kEventFileFormat},
                      {"schema_version", kEventFileSchemaVersion},
                      {"events", n},
                      {"bytes", bytes},
                      {"bytes_per_event", n ? bytes / static_cast<std::int64_t>(n) : 0},
                      {"has_truth", reader.hasTruth()},
                      {"has_cells", reader.hasCells()},
                      {"has_particles", reader.hasParticles()},
                      {"hits_per_event", hits.toJson()}};
  nlohmann::json volumes = nlohmann::json::object();
  for (const auto& [v, count] : hitsPerVolume) {
    volumes[std::to_string(v)] = count / static_cast<double>(std::max<std::size_t>(n, 1));
  }
  j["hits_per_event_by_volume"] = volumes;
  if (reader.hasParticles()) {
    j["particles_per_event"] = particles.toJson();
    j["particles_pt_gt_1gev_per_event"] = highPt.toJson();
  }
  if (reader.hasTruth()) j["noise_hits_per_event"] = noise.toJson();
  if (reader.hasCells()) j["cells_per_event"] = cells.toJson();
  if (o.perEvent) j["per_event"] = events;
  if (!o.json) {
    std::string t = fmt::format("file            {}\n", o.path);
    t += fmt::format("format          {} v{}\n", kEventFileFormat, kEventFileSchemaVersion);
    t += fmt::format("events          {}\n", n);
    t += fmt::format("size            {:.2f} MB ({:.1f} kB/event)\n", bytes / 1e6,
                     n ? bytes / 1e3 / static_cast<double>(n) : 0.0);
    t +=
        fmt::format("tables          hits{}{}{}\n", reader.hasTruth() ? ", truth" : "",
                    reader.hasCells() ? ", cells" : "", reader.hasParticles() ? ", particles" : "");
    t += fmt::format("hits/event      {}\n", hits.text());
    for (const auto& [v, count] : hitsPerVolume) {
      t += fmt::format("  volume {:>3}    {:>10.1f}  {}\n", v,
                       count / static_cast<double>(std::max<std::size_t>(n, 1)), volumeName(v));
    }
    if (reader.hasParticles()) {
      t += fmt::format("particles/event {}\n", particles.text());
      t += fmt::format("  pT > 1 GeV    {}\n", highPt.text());
    }
    if (reader.hasTruth()) t += fmt::format("noise hits/evt  {}\n", noise.text());
    if (reader.hasCells()) t += fmt::format("cells/event     {}\n", cells.text());
    if (o.perEvent) {
      t += "event_id,hits,particles,particles_pt_gt_1gev\n";
      for (const auto& e : events) {
        t += fmt::format("{},{},{},{}\n", e["event_id"].get<std::int64_t>(),
                         e["hits"].get<std::int64_t>(), e["particles"].get<std::int64_t>(),
                         e["particles_pt_gt_1gev"].get<std::int64_t>());
      }
    }
    std::fputs(t.c_str(), stdout);
  }
  return j;
}

nlohmann::json inspectTracks(const InspectOptions& o) {
  TracksFileReader reader(o.path);
  Stat hits, tracks, unassigned;
  for (std::size_t i = 0; i < reader.numEvents(); ++i) {
    const Tracks t = reader.read(i);
    hits.add(static_cast<double>(t.size()));
    std::vector<std::int64_t> labels;
    std::int64_t none = 0;
    for (std::int64_t l : t.label) {
      if (l == Tracks::kNoTrack) {
        ++none;
      } else {
        labels.push_back(l);
      }
    }
    std::sort(labels.begin(), labels.end());
    tracks.add(static_cast<double>(std::unique(labels.begin(), labels.end()) - labels.begin()));
    unassigned.add(static_cast<double>(none));
  }
  nlohmann::json j = {{"file", o.path},
                      {"format", kTracksFileFormat},
                      {"events", reader.numEvents()},
                      {"hits_per_event", hits.toJson()},
                      {"tracks_per_event", tracks.toJson()},
                      {"unassigned_hits_per_event", unassigned.toJson()}};
  if (!o.json) {
    std::string t =
        fmt::format("file            {}\nformat          {} v{}\nevents          {}\n", o.path,
                    kTracksFileFormat, kTracksFileSchemaVersion, reader.numEvents());
    t += fmt::format("hits/event      {}\ntracks/event    {}\nunassigned/evt  {}\n", hits.text(),
                     tracks.text(), unassigned.text());
    std::fputs(t.c_str(), stdout);
  }
  return j;
}

void runInspect(const InspectOptions& o) {
  const std::string format = readFileFormat(o.path);
  nlohmann::json j;
  if (format == kEventFileFormat) {
    j = inspectEvents(o);
  } else if (format == kTracksFileFormat) {
    j = inspectTracks(o);
  } else {
    throw InputError(o.path, InputError::kNoEvent, "unknown trkaas file format '" + format + "'");
  }
  if (o.json) std::printf("%s\n", j.dump(2).c_str());
}

}  // namespace

void addInspectCommand(CLI::App& app) {
  auto o = std::make_shared<InspectOptions>();
  CLI::App* cmd = app.add_subcommand(
      "inspect",
      "Summarise a trkaas event file (events, hits per event and per detector volume, "
      "particles, particles with pT > 1 GeV, noise, size per event) or a tracks file. "
      "Reads and checks every event.");
  cmd->add_option("file", o->path, "event or tracks file (.h5)")->required();
  cmd->add_flag("--json", o->json, "print the summary as JSON");
  cmd->add_flag("--per-event", o->perEvent, "also list every event");
  cmd->callback([o] { runInspect(*o); });
}

}  // namespace trkaas::app
