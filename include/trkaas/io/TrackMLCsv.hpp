#pragma once
/// Import and export of the TrackML challenge CSV format.
///
/// One event is a set of files that share a prefix, `dir/eventNNNNNNNNN`:
///   `-hits.csv`      hit_id,x,y,z,volume_id,layer_id,module_id   (required)
///   `-cells.csv`     hit_id,ch0,ch1,value                          (optional)
///   `-truth.csv`     hit_id,particle_id,tx,ty,tz,tpx,tpy,tpz,weight (optional)
///   `-particles.csv` particle_id,vx,vy,vz,px,py,pz,q,nhits[,particle_type] (optional)
/// each plain or gzip-compressed (`.csv.gz`). Columns are found by header name, in any
/// order; unknown columns are ignored. Hit ids are kept as they are in the files.
///
/// `particle_type` (our `Particles::pdgId`) is not part of the TrackML files: it is read
/// when present (0 otherwise) and written only when some particle has a nonzero pdgId,
/// so that both directions keep every value. Floats are written in the shortest form
/// that reads back to the same float, so CSV -> Event -> CSV keeps the text of the
/// numbers as the TrackML files print them.
///
/// Every problem with an input file throws trkaas::InputError naming the file, the event
/// id (from the file name) and, for problems in the content, the line number.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "trkaas/core/Event.hpp"

namespace trkaas {

class TextWriter;

/// Sorted event prefixes ("dir/event000001000") of all events in a directory that have a
/// hits file (.csv or .csv.gz), ordered by event id. Throws InputError if `directory`
/// is not a readable directory.
std::vector<std::string> findTrackMLEvents(const std::string& directory);

/// Event id from a prefix or file name ("…/event000001000-hits.csv" or
/// "…/event000001000" -> 1000). Throws trkaas::Error (an InputError naming the name) if
/// the name has no event number.
std::int64_t trackMLEventId(const std::string& prefixOrFile);

/// Reads the hits and, when their files exist, the cells, truth and particles of one
/// event (`prefix` is "dir/eventNNNNNNNNN"; a hits file name is accepted too). Truth rows
/// may come in any order: they are placed in the order of the hits. Throws InputError on
/// a missing hits file, unparsable or out-of-range numbers, wrong field counts, missing
/// columns, duplicate or unknown hit ids, hits without truth, an empty event or a damaged
/// gzip stream.
Event readTrackMLEvent(const std::string& prefix);

/// Writes `directory`/eventNNNNNNNNN-hits.csv[.gz] (9-digit zero-padded event id) and the
/// cells, truth and particles files for the tables the event has. Creates `directory`
/// if needed. The event must pass validateEvent() and have a non-negative id, otherwise
/// this throws before writing anything.
void writeTrackMLEvent(const Event& event, const std::string& directory, bool gzip);

/// Streams tracks as a TrackML submission file: the header `event_id,hit_id,track_id`,
/// then one row per hit of each Tracks written, in the order of `Tracks::hitId`.
/// Unassigned hits keep their label (Tracks::kNoTrack, -1), so the file holds exactly
/// what the tracks hold; the TrackML score gives such a catch-all track no credit.
class TrackMLSubmissionWriter {
 public:
  /// Opens `path` (gzip-compressed when `gzip`) and writes the header. The file is written
  /// as `path + ".part"` and renamed by close(), so a file under its final name is whole.
  /// Throws Error if the file cannot be opened.
  TrackMLSubmissionWriter(const std::string& path, bool gzip);
  /// Without close() (an error on the way), removes the ".part" file and logs a warning.
  ~TrackMLSubmissionWriter();
  TrackMLSubmissionWriter(const TrackMLSubmissionWriter&) = delete;
  TrackMLSubmissionWriter& operator=(const TrackMLSubmissionWriter&) = delete;

  /// Appends the rows of one event. Throws Error if hitId and label differ in length or
  /// the writer is closed.
  void write(const Tracks& tracks);
  /// Flushes and closes the file; throws Error if anything failed. Idempotent.
  void close();

  const std::string& path() const { return m_path; }

 private:
  std::string m_path;
  std::unique_ptr<TextWriter> m_writer;
};

}  // namespace trkaas
