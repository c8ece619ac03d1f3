#pragma once
/// Internal helpers of the pipeline (Pipeline.cpp, the stages): volume selection, batches
/// of events, limits, labels back to the hits. Not installed; no torch types.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "trkaas/core/Event.hpp"
#include "trkaas/pipeline/Pipeline.hpp"

namespace trkaas::detail {

/// Logit threshold equivalent to sigmoid(logit) > cut, so no sigmoid is computed.
float logitCut(float cut);

/// The reason in a torch error message, without the TorchScript traceback and the C++
/// backtrace torch appends (at most 600 characters).
std::string torchErrorReason(const std::string& text);

/// Validates the fields of a PipelineConfig that the pipeline itself uses (cuts, chunk,
/// limits, threads); throws trkaas::Error with the pipeline's messages.
void checkPipelineConfig(const PipelineConfig& config);

/// The hits the models see for the events of one runBatch call: the hits of the configured
/// volumes of every event, one event after the other (their disjoint union). Event k is
/// the segment [first(k), first(k) + count(k)) of merged(). In a batch of several events
/// the hit ids of merged() are its rows (the events' ids may collide) and cells follow
/// them; a single event is used as it is (or as selected).
class BatchHits {
 public:
  /// Selects the volumes (filling results[k].rows, as PipelineResult documents), checks
  /// config.maxHits per event (trkaas::InputError naming `source` and the event) and
  /// builds the union. Needs at least one event; `results` must hold one entry per
  /// event.
  BatchHits(const std::vector<const Event*>& events, const PipelineConfig& config,
            std::vector<PipelineResult>& results, const std::string& source);
  BatchHits(const BatchHits&) = delete;
  BatchHits& operator=(const BatchHits&) = delete;

  std::size_t numEvents() const { return m_events.size(); }
  /// All selected hits of all events (the union, or the only event).
  const Event& merged() const { return numEvents() > 1 ? m_batch : *m_selected.front(); }
  /// Hits the models see of event k (its configured volumes).
  const Event& selected(std::size_t k) const { return *m_selected[k]; }
  /// Event k as given.
  const Event& original(std::size_t k) const { return *m_events[k]; }
  std::int64_t first(std::size_t k) const { return m_first[k]; }
  std::int64_t count(std::size_t k) const { return m_count[k]; }
  /// Hits of merged().
  std::int64_t numHits() const { return m_numHits; }

  /// Shares a batch's stage time out to the events by their hits: results[k].*field.
  void record(std::vector<PipelineResult>& results, Stage stage, double ms) const;

 private:
  std::vector<const Event*> m_events;
  std::vector<Event> m_selectedStore;
  std::vector<const Event*> m_selected;
  std::vector<std::int64_t> m_first, m_count;
  std::int64_t m_numHits = 0;
  Event m_batch;
  std::vector<double> m_share;
};

/// Throws trkaas::InputError when a radius graph of `edges` edges exceeds `limit` (0: no
/// limit), naming `source` and the event.
void checkGraphEdges(const std::string& source, const Event& event, std::int64_t edges,
                     std::int64_t limit);

/// Fills the tracks of `result` for `original` from the labels of the hits the models saw
/// (labels index result.rows, or all hits when `volumes` is empty; the other hits get
/// Tracks::kNoTrack), and record.tracks and record.hits.
void setTracks(PipelineResult& result, const Event& original, std::vector<std::int64_t> labels,
               const std::vector<std::int32_t>& volumes);

}  // namespace trkaas::detail
