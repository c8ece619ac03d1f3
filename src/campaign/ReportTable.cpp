#include "trkaas/campaign/ReportTable.hpp"

#include <fstream>
#include <regex>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "trkaas/core/Error.hpp"

namespace trkaas {

namespace {

using nlohmann::json;

const char* const kStages[] = {"features", "embedding", "graph", "filter",
                               "gnn",      "tracks",    "total"};

std::string number(double v) { return fmt::format("{:.6g}", v); }

/// Nodes of a report: the field (since it was added), else counted from the layout text.
int nodesOf(const json& r) {
  if (r.contains("nodes")) return r["nodes"].get<int>();
  std::set<std::string> nodes;
  const std::string layout = r.value("layout", std::string());
  static const std::regex node(R"(\(node (\d+),)");
  for (auto it = std::sregex_iterator(layout.begin(), layout.end(), node);
       it != std::sregex_iterator(); ++it) {
    nodes.insert((*it)[1].str());
  }
  return nodes.empty() ? 1 : static_cast<int>(nodes.size());
}

double meanOf(const json& items, const char* key, bool& any) {
  double sum = 0;
  int n = 0;
  for (const json& it : items) {
    if (it.contains(key) && it[key].is_number()) {
      sum += it[key].get<double>();
      ++n;
    }
  }
  any = n > 0;
  return n > 0 ? sum / n : 0.0;
}

}  // namespace

const std::vector<std::string>& reportColumns() {
  static const std::vector<std::string> columns = [] {
    std::vector<std::string> c = {"label",
                                  "mode",
                                  "run",
                                  "nodes",
                                  "servers",
                                  "producers",
                                  "producers_per_server",
                                  "workers",
                                  "concurrency",
                                  "batch_hits",
                                  "events_done",
                                  "events_failed",
                                  "wall_s",
                                  "events_per_s",
                                  "hits_per_event",
                                  "latency_p50_ms",
                                  "latency_p99_ms",
                                  "queue_p50_ms",
                                  "queue_p99_ms",
                                  "server_busy",
                                  "producer_wait",
                                  "producer_ms_per_event",
                                  "server_events_per_s"};
    for (const char* s : kStages) c.push_back(std::string("stage_") + s + "_ms");
    c.insert(c.end(), {"gpu_busy", "efficiency", "fake_rate"});
    return c;
  }();
  return columns;
}

std::vector<std::string> reportRow(const std::string& path, const std::string& label) {
  std::ifstream in(path);
  if (!in) throw Error("report '" + path + "': cannot open");
  const json r = json::parse(in, nullptr, false);
  if (r.is_discarded() || !r.is_object() || !r.contains("events_per_s") || !r.contains("servers") ||
      !r.contains("producers")) {
    throw Error("report '" + path + "': not a trkaas service report (report.json)");
  }
  try {
    const json& servers = r["servers"];
    const json& producers = r["producers"];
    const bool service = r.value("mode", std::string()) == "service";
    bool anyBusy = false, anyWait = false;
    const double busy = meanOf(servers, "busy_fraction", anyBusy);
    const double wait = meanOf(producers, "wait_fraction", anyWait);
    double gpuSum = 0;
    int gpuN = 0;
    for (const json& s : servers) {
      if (s.contains("gpu_stats") && s["gpu_stats"].is_object()) {
        gpuSum += s["gpu_stats"]["busy_fraction"].get<double>();
        ++gpuN;
      }
    }
    const double eventsPerS = r["events_per_s"].get<double>();
    const auto quant = [&](const char* what, const char* q) -> std::string {
      if (!r.contains(what) || !r[what].contains(q)) return "";
      return number(r[what][q].get<double>());
    };
    double producerMs = 0;
    for (const auto& [k, v] : r["producer_ms_per_event"].items()) producerMs += v.get<double>();

    std::vector<std::string> row = {label,
                                    r.value("mode", std::string()),
                                    std::to_string(r.value("run", 0)),
                                    std::to_string(nodesOf(r)),
                                    std::to_string(servers.size()),
                                    std::to_string(producers.size())};
    row.push_back(servers.empty() ? "" : number(double(producers.size()) / double(servers.size())));
    row.push_back(std::to_string(r.value("workers", 1)));
    row.push_back(std::to_string(r.value("concurrency", 1)));
    row.push_back(std::to_string(r.value("batch_hits", 0)));
    row.push_back(std::to_string(r["events_done"].get<std::int64_t>()));
    row.push_back(std::to_string(r["events_failed"].get<std::int64_t>()));
    row.push_back(number(r["wall_s"].get<double>()));
    row.push_back(number(eventsPerS));
    row.push_back(number(r.value("hits_per_event", 0.0)));
    row.push_back(quant("latency_ms", "p50"));
    row.push_back(quant("latency_ms", "p99"));
    row.push_back(quant("queue_ms", "p50"));
    row.push_back(quant("queue_ms", "p99"));
    row.push_back(service && anyBusy ? number(busy) : "");
    row.push_back(service && anyWait ? number(wait) : "");
    row.push_back(number(producerMs));
    row.push_back(
        service && anyBusy && busy > 0 ? number(eventsPerS / (double(servers.size()) * busy)) : "");
    for (const char* s : kStages) {
      const bool has = r.contains("stage_ms") && r["stage_ms"].contains(s);
      row.push_back(has ? number(r["stage_ms"][s]["mean"].get<double>()) : "");
    }
    row.push_back(gpuN > 0 ? number(gpuSum / gpuN) : "");
    // Physics of the whole event: the "event" scope of reports with scopes ("processed"
    // beside it), the flat numbers of older reports.
    const json* physics = nullptr;
    if (r.contains("physics") && r["physics"].is_object()) {
      const json& p = r["physics"];
      physics = p.contains("event") && p["event"].is_object() ? &p["event"] : &p;
    }
    const auto physicsNumber = [&](const char* key) -> std::string {
      if (physics == nullptr || !physics->contains(key) || !(*physics)[key].is_number()) return "";
      return number((*physics)[key].get<double>());
    };
    row.push_back(physicsNumber("efficiency_pt_gt_1gev"));
    row.push_back(physicsNumber("fake_rate"));
    return row;
  } catch (const json::exception& e) {
    throw Error("report '" + path + "': unexpected content: " + e.what());
  }
}

std::string csvLine(const std::vector<std::string>& fields) {
  std::string line;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) line += ',';
    const std::string& f = fields[i];
    if (f.find_first_of(",\"\n") == std::string::npos) {
      line += f;
      continue;
    }
    line += '"';
    for (char c : f) {
      if (c == '"') line += '"';
      line += c;
    }
    line += '"';
  }
  return line;
}

}  // namespace trkaas
