#include "PipelineOptions.hpp"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "trkaas/core/Error.hpp"

namespace trkaas::app {

namespace {

std::string directoryOf(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

std::string resolve(const std::string& dir, const std::string& file) {
  return !file.empty() && file[0] == '/' ? file : dir + "/" + file;
}

}  // namespace

PipelineConfig loadPipelineConfig(const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    throw Error("pipeline config '" + path + "': cannot open the file");
  } catch (const YAML::Exception& e) {
    throw Error("pipeline config '" + path + "': not valid YAML: " + e.what());
  }
  if (!root.IsMap()) throw Error("pipeline config '" + path + "': expected a map of settings");
  const auto fail = [&](const std::string& key, const std::string& why) {
    throw Error("pipeline config '" + path + "': " + key + " " + why);
  };
  static const std::set<std::string> known = {
      "format",           "version",       "features",   "embedding_dim",   "radius",
      "max_neighbours",   "filter_cut",    "gnn_cut",    "min_track_size",  "volumes",
      "edge_truth",       "models",        "trained_on", "grid_dims",       "filter_chunk",
      "junction_removal", "undirected",    "max_hits",   "max_graph_edges", "embedding_chunk",
      "detector",         "track_builder", "extend_cut", "walk_max_turn",   "stitch_max_xy",
      "stitch_max_z"};
  for (const auto& item : root) {
    const std::string key = item.first.as<std::string>();
    if (known.count(key) == 0) fail(key, "is not a known setting");
  }
  for (const char* required :
       {"features", "radius", "max_neighbours", "filter_cut", "gnn_cut", "models"}) {
    if (!root[required]) fail(required, "is missing");
  }
  if (root["format"] && root["format"].as<std::string>() != "trkaas-pipeline") {
    fail("format", "must be trkaas-pipeline");
  }
  const std::string dir = directoryOf(path);
  PipelineConfig c;
  try {
    c.features.features.clear();
    for (const auto& f : root["features"]) {
      c.features.features.push_back({f["name"].as<std::string>(), f["scale"].as<float>()});
    }
    c.graph.radius = root["radius"].as<float>();
    c.graph.maxNeighbours = root["max_neighbours"].as<int>();
    if (root["grid_dims"]) c.graph.gridDims = root["grid_dims"].as<int>();
    c.filterCut = root["filter_cut"].as<float>();
    c.gnnCut = root["gnn_cut"].as<float>();
    if (root["extend_cut"]) {
      c.extendCut = root["extend_cut"].as<float>();
      if (!(c.extendCut > 0.0f && c.extendCut < c.gnnCut)) {
        fail("extend_cut", "must lie strictly between 0 and gnn_cut (" + std::to_string(c.gnnCut) +
                               "), got " + std::to_string(c.extendCut));
      }
    }
    if (root["filter_chunk"]) c.filterChunk = root["filter_chunk"].as<std::int64_t>();
    if (root["embedding_chunk"]) c.embeddingChunk = root["embedding_chunk"].as<std::int64_t>();
    if (root["min_track_size"]) c.tracks.minTrackSize = root["min_track_size"].as<int>();
    if (root["junction_removal"]) c.tracks.junctionRemoval = root["junction_removal"].as<bool>();
    if (root["track_builder"]) {
      try {
        c.tracks.method = TrackBuilder::methodFromName(root["track_builder"].as<std::string>());
      } catch (const Error& e) {
        fail("track_builder", std::string("is wrong: ") + e.what());
      }
      if (c.tracks.method == TrackBuilder::Method::Walk && c.tracks.junctionRemoval) {
        fail("track_builder", "walk does not combine with junction_removal: true");
      }
    }
    if (root["walk_max_turn"]) {
      c.tracks.maxTurn = root["walk_max_turn"].as<double>();
      if (!(c.tracks.maxTurn > 0.0 && c.tracks.maxTurn <= M_PI)) {
        fail("walk_max_turn",
             "must lie in (0, pi] radians, got " + std::to_string(c.tracks.maxTurn));
      }
      if (c.tracks.method != TrackBuilder::Method::Walk) {
        fail("walk_max_turn", "needs track_builder: walk");
      }
    }
    if (root["stitch_max_xy"] || root["stitch_max_z"]) {
      if (!root["stitch_max_xy"] || !root["stitch_max_z"]) {
        fail(root["stitch_max_xy"] ? "stitch_max_z" : "stitch_max_xy",
             "is missing (helix stitching needs stitch_max_xy and stitch_max_z)");
      }
      c.tracks.stitchMaxXy = root["stitch_max_xy"].as<double>();
      c.tracks.stitchMaxZ = root["stitch_max_z"].as<double>();
      for (const auto& [key, value] : {std::pair{"stitch_max_xy", c.tracks.stitchMaxXy},
                                       std::pair{"stitch_max_z", c.tracks.stitchMaxZ}}) {
        if (!(value > 0.0 && std::isfinite(value))) {
          fail(key, "must be > 0 mm, got " + std::to_string(value));
        }
      }
    }
    if (root["undirected"]) c.undirected = root["undirected"].as<bool>();
    if (root["max_hits"]) c.maxHits = root["max_hits"].as<std::int64_t>();
    if (root["max_graph_edges"]) c.maxGraphEdges = root["max_graph_edges"].as<std::int64_t>();
    if (root["volumes"]) c.volumes = root["volumes"].as<std::vector<std::int32_t>>();
    // The module geometry of the cluster-shape features (relative to this file).
    if (root["detector"]) c.features.detector = resolve(dir, root["detector"].as<std::string>());
    const YAML::Node models = root["models"];
    for (const char* m : {"embedding", "filter", "gnn"}) {
      if (!models[m]) fail(std::string("models.") + m, "is missing");
    }
    c.embeddingModel = resolve(dir, models["embedding"].as<std::string>());
    c.filterModel = resolve(dir, models["filter"].as<std::string>());
    c.gnnModel = resolve(dir, models["gnn"].as<std::string>());
  } catch (const YAML::Exception& e) {
    throw Error("pipeline config '" + path + "': a value has the wrong type (" +
                std::string(e.what()) + ")");
  }
  return c;
}

std::string describePipelineConfig(const PipelineConfig& c) {
  std::vector<std::string> features;
  for (const auto& f : c.features.features)
    features.push_back(fmt::format("{}/{}", f.name, f.scale));
  return fmt::format(
      "features [{}]; volumes {}; graph r={} k={} grid dims {}; cuts filter {} gnn {}; "
      "min track size {}{}{}{}{}{}; threads {}\n  models: {}, {}, {}",
      fmt::join(features, ", "),
      c.volumes.empty() ? std::string("all") : fmt::format("{}", fmt::join(c.volumes, ",")),
      c.graph.radius, c.graph.maxNeighbours, c.graph.gridDims, c.filterCut, c.gnnCut,
      c.tracks.minTrackSize, c.tracks.junctionRemoval ? ", junction removal" : "",
      c.tracks.method == TrackBuilder::Method::Walk ? ", tracks by walk" : "",
      c.extendCut > 0.0f ? fmt::format(", extended along edges above {}", c.extendCut) : "",
      c.tracks.stitchMaxXy > 0.0 ? fmt::format(", helix stitching within {} / {} mm",
                                               c.tracks.stitchMaxXy, c.tracks.stitchMaxZ)
                                 : "",
      c.undirected ? ", edges scored in both directions" : "", c.threads, c.embeddingModel,
      c.filterModel, c.gnnModel);
}

}  // namespace trkaas::app
