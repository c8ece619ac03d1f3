#include "PipelineCommon.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <unordered_map>

#include "trkaas/core/Error.hpp"

namespace trkaas::detail {

float logitCut(float cut) { return std::log(cut / (1.0f - cut)); }

std::string torchErrorReason(const std::string& text) {
  // TorchScript interpreter errors end with the Python exception line, e.g.
  // "RuntimeError: mat1 and mat2 shapes cannot be multiplied (3x3 and 4x16)".
  const std::size_t error = text.rfind("Error: ");
  if (text.find("Traceback of TorchScript") != std::string::npos && error != std::string::npos) {
    std::size_t start = text.rfind('\n', error);
    start = start == std::string::npos ? 0 : start + 1;
    return text.substr(start, std::min<std::size_t>(text.find('\n', error) - start, 600));
  }
  std::size_t cut = std::min(text.find("Exception raised from"), text.find("\n\n"));
  cut = std::min<std::size_t>(cut, 600);
  std::string head = text.substr(0, cut);
  while (!head.empty() && (head.back() == '\n' || head.back() == ' ')) head.pop_back();
  return head;
}

void checkPipelineConfig(const PipelineConfig& c) {
  const auto cutOk = [](float cut) { return cut > 0.0f && cut < 1.0f; };
  if (!cutOk(c.filterCut) || !cutOk(c.gnnCut)) {
    throw Error("pipeline: filter and GNN cuts must lie strictly between 0 and 1, got " +
                std::to_string(c.filterCut) + " and " + std::to_string(c.gnnCut));
  }
  if (c.extendCut != 0.0f && !(c.extendCut > 0.0f && c.extendCut < c.gnnCut)) {
    throw Error("pipeline: the extension cut must lie strictly between 0 and the GNN cut " +
                std::to_string(c.gnnCut) + " (0: no extension), got " +
                std::to_string(c.extendCut));
  }
  if (c.filterChunk < 1) throw Error("pipeline: filterChunk must be at least 1");
  if (c.embeddingChunk < 0) throw Error("pipeline: embeddingChunk must be >= 0 (0: one call)");
  if (c.maxHits < 0 || c.maxGraphEdges < 0) {
    throw Error("pipeline: maxHits and maxGraphEdges must be >= 0 (0: no limit)");
  }
  if (c.threads < 1) throw Error("pipeline: threads must be at least 1");
}

namespace {

/// The hits of the configured volumes (not empty), and their rows.
Event selectVolumes(const Event& event, const std::vector<std::int32_t>& volumes,
                    std::vector<std::int64_t>& rows) {
  rows.clear();
  Event selected;
  selected.eventId = event.eventId;
  for (std::size_t i = 0; i < event.hits.size(); ++i) {
    const std::int32_t v = event.hits.volumeId[i];
    if (std::find(volumes.begin(), volumes.end(), v) == volumes.end()) continue;
    rows.push_back(static_cast<std::int64_t>(i));
    selected.hits.push_back(event.hits.hitId[i], event.hits.x[i], event.hits.y[i], event.hits.z[i],
                            v, event.hits.layerId[i], event.hits.moduleId[i]);
  }
  if (event.hasCells()) selected.cells = event.cells;  // cells are looked up by hit id
  return selected;
}

}  // namespace

BatchHits::BatchHits(const std::vector<const Event*>& events, const PipelineConfig& config,
                     std::vector<PipelineResult>& results, const std::string& source)
    : m_events(events) {
  const std::size_t numEvents = events.size();
  m_selectedStore.resize(config.volumes.empty() ? 0 : numEvents);
  m_selected.resize(numEvents);
  m_first.resize(numEvents);
  m_count.resize(numEvents);
  for (std::size_t k = 0; k < numEvents; ++k) {
    if (config.volumes.empty()) {
      m_selected[k] = events[k];
    } else {
      m_selectedStore[k] = selectVolumes(*events[k], config.volumes, results[k].rows);
      m_selected[k] = &m_selectedStore[k];
    }
    m_first[k] = m_numHits;
    m_count[k] = static_cast<std::int64_t>(m_selected[k]->hits.size());
    m_numHits += m_count[k];
    if (config.maxHits > 0 && m_count[k] > config.maxHits) {
      throw InputError(source, events[k]->eventId,
                       std::to_string(m_count[k]) + " hits in the model's volumes, above the " +
                           "limit of " + std::to_string(config.maxHits) + " (max_hits)");
    }
  }
  if (numEvents > 1) {
    m_batch.eventId = events.front()->eventId;
    m_batch.hits.reserve(static_cast<std::size_t>(m_numHits));
    for (std::size_t k = 0; k < numEvents; ++k) {
      const Hits& h = m_selected[k]->hits;
      std::unordered_map<std::int64_t, std::int64_t> row;
      for (std::size_t i = 0; i < h.size(); ++i) {
        const std::int64_t id = m_first[k] + static_cast<std::int64_t>(i);
        m_batch.hits.push_back(id, h.x[i], h.y[i], h.z[i], h.volumeId[i], h.layerId[i],
                               h.moduleId[i]);
        if (m_selected[k]->hasCells()) row.emplace(h.hitId[i], id);
      }
      const Cells& c = m_selected[k]->cells;
      for (std::size_t j = 0; j < c.size(); ++j) {
        const auto it = row.find(c.hitId[j]);
        if (it != row.end()) m_batch.cells.push_back(it->second, c.ch0[j], c.ch1[j], c.value[j]);
      }
    }
  }
  // Shares of a batch's stage times: by hits.
  m_share.assign(numEvents, 1.0);
  for (std::size_t k = 0; k < numEvents && numEvents > 1; ++k) {
    m_share[k] = m_numHits > 0 ? double(m_count[k]) / double(m_numHits) : 1.0 / double(numEvents);
  }
}

void BatchHits::record(std::vector<PipelineResult>& results, Stage stage, double ms) const {
  for (std::size_t k = 0; k < m_share.size(); ++k) results[k].record.ms[stage] = ms * m_share[k];
}

void checkGraphEdges(const std::string& source, const Event& event, std::int64_t edges,
                     std::int64_t limit) {
  if (limit > 0 && edges > limit) {
    throw InputError(source, event.eventId,
                     std::to_string(edges) + " radius-graph edges, above the limit of " +
                         std::to_string(limit) + " (max_graph_edges)");
  }
}

void setTracks(PipelineResult& r, const Event& original, std::vector<std::int64_t> labels,
               const std::vector<std::int32_t>& volumes) {
  std::int64_t maxLabel = -1;
  for (std::int64_t l : labels) maxLabel = std::max(maxLabel, l);
  r.record.tracks = maxLabel + 1;
  // Labels for every hit of the event; the hits outside the volumes get none.
  r.tracks.eventId = original.eventId;
  r.tracks.hitId = original.hits.hitId;
  r.record.hits = static_cast<std::int64_t>(original.hits.size());
  if (volumes.empty()) {
    r.tracks.label = std::move(labels);
  } else {
    r.tracks.label.assign(original.hits.size(), Tracks::kNoTrack);
    for (std::size_t i = 0; i < r.rows.size(); ++i) {
      r.tracks.label[static_cast<std::size_t>(r.rows[i])] = labels[i];
    }
  }
}

}  // namespace trkaas::detail

namespace trkaas {

std::string describeTracks(const PipelineConfig& c) {
  std::ostringstream s;
  s << "edges with GNN score > " << c.gnnCut
    << (c.tracks.method == TrackBuilder::Method::Walk ? ", split into paths by walk"
                                                      : ", connected components")
    << (c.tracks.junctionRemoval ? " after junction removal" : "");
  if (c.tracks.maxTurn > 0.0) s << " turning at most " << c.tracks.maxTurn << " rad in r-z";
  if (c.extendCut > 0.0f) s << ", grown at their ends along edges > " << c.extendCut;
  if (c.tracks.stitchMaxXy > 0.0) {
    s << ", joined where they continue one helix (within " << c.tracks.stitchMaxXy << " mm in x-y, "
      << c.tracks.stitchMaxZ << " mm in z)";
  }
  s << "; tracks of >= " << c.tracks.minTrackSize << " hits";
  return s.str();
}

}  // namespace trkaas
