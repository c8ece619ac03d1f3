#pragma once
/// The append-only journal of a job's output directory: what lets a stopped job resume
/// without redoing or losing events.
///
/// Each producer of each run (a start of the job on the directory) writes
///   DIR/tracks-rRRR-pPPPP.h5        its tracks (written as .part, renamed when closed)
///   DIR/journal-rRRR-pPPPP.jsonl    one JSON line per finished event, flushed at once:
///     {"file": F, "index": I, "event": ID, "status": "done", "tracks": "tracks-...h5"}
///     {"file": F, "index": I, "event": ID, "status": "error", "reason": "..."}
///   and, after the tracks file is closed and renamed:
///     {"commit": "tracks-rRRR-pPPPP.h5", "events": N}
/// F is the input file's absolute path, I the event's position in it (-1 when the whole
/// file could not be read). An event counts as done only when its tracks file was
/// committed and exists; events of a run that was killed before it could commit are done
/// again by the next run. A partly written last line (a kill mid-write) is ignored.

#include <cstdint>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace trkaas {

/// An input event: the absolute path of its file and its position in that file.
using EventKey = std::pair<std::string, std::int64_t>;

/// What the journals of a directory say.
struct JournalState {
  std::set<EventKey> done;                    ///< tracks written and committed
  std::map<EventKey, std::string> failed;     ///< error records (last reason), not done
  std::vector<std::string> committedFiles;    ///< tracks files of committed runs
  std::vector<std::string> uncommittedFiles;  ///< tracks files never committed (lost runs)
  int lastRun = 0;                            ///< highest run number found (0: none)
  std::int64_t ignoredLines = 0;              ///< unreadable lines (cut by a kill)
};

/// One line of a journal, as written by JournalWriter.
struct JournalRecord {
  enum Kind { kDone, kError, kCommit, kUnreadable };
  Kind kind = kUnreadable;
  int run = 0;                ///< from the journal's file name
  EventKey key;               ///< kDone, kError
  std::int64_t eventId = -1;  ///< kDone, kError
  std::string tracksFile;     ///< kDone: where its tracks are; kCommit: the committed file
  std::string reason;         ///< kError
  std::int64_t events = 0;    ///< kCommit
};

/// Every line of every journal-*.jsonl of `dir`, in run order, then producer order, then
/// line order (missing directory: none). A line that is not a record (cut by a kill) is
/// kUnreadable. `lastRun` (when given) gets the highest run number of any journal file,
/// also of one without lines.
std::vector<JournalRecord> readJournalRecords(const std::string& dir, int* lastRun = nullptr);

/// Reads every journal-*.jsonl of `dir` (missing directory: empty state).
JournalState loadJournals(const std::string& dir);

/// File names of run `run`, producer `producer` (no directory).
std::string tracksFileName(int run, int producer);
std::string journalFileName(int run, int producer);

class JournalWriter {
 public:
  /// Opens (appends to) `path`; throws trkaas::Error if it cannot.
  explicit JournalWriter(const std::string& path);
  ~JournalWriter();
  JournalWriter(const JournalWriter&) = delete;
  JournalWriter& operator=(const JournalWriter&) = delete;

  void done(const EventKey& key, std::int64_t eventId, const std::string& tracksFile);
  void error(const EventKey& key, std::int64_t eventId, const std::string& reason);
  /// After the tracks file is closed: its events are now safe. Synced to disk.
  void commit(const std::string& tracksFile, std::int64_t events);

 private:
  void line(const std::string& text, bool sync);
  std::FILE* m_file = nullptr;
  std::string m_path;
};

}  // namespace trkaas
