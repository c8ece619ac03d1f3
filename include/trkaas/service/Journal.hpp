#pragma once
/// The append-only journal of a job's output directory: what lets a stopped job resume
/// without redoing or losing events.
///
/// Each run (a start of the job on the directory: the first, and every resume or retry)
/// writes into its own directory DIR/run-RRR/; each of its producers writes
///   run-RRR/tracks-rRRR-pPPPP.h5        its tracks (written as .part, renamed when closed)
///   run-RRR/journal-rRRR-pPPPP.jsonl    one JSON line per finished event, flushed at once:
///     {"file": F, "index": I, "event": ID, "status": "done", "tracks": "run-RRR/tracks-...h5"}
///     {"file": F, "index": I, "event": ID, "status": "error", "reason": "..."}
///   and, after the tracks file is closed and renamed:
///     {"commit": "run-RRR/tracks-rRRR-pPPPP.h5", "events": N}
/// and rank 0 writes run-RRR/report.json at the end, copied to DIR/report.json (always the
/// latest run's). F is the input file's absolute path, I the event's position in it (-1
/// when the whole file could not be read); tracks names are relative to DIR. An event
/// counts as done only when its tracks file was committed and exists; events of a run that
/// was killed before it could commit are done again by the next run. A partly written last
/// line (a kill mid-write) is ignored.
///
/// Directories written before runs had their own directory (everything in DIR:
/// journal-rRRR-pPPPP.jsonl, tracks-rRRR-pPPPP.h5, report-rRRR.json) are read the same way:
/// their tracks names are relative to DIR too, and a resume continues with the next run
/// number in a run directory.

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

/// The journal files of `dir` (both layouts: run-RRR/journal-*.jsonl and the older
/// journal-*.jsonl directly in `dir`), in run order, then producer order (missing
/// directory: none). `lastRun` (when given) gets the highest run number of any journal
/// file, also of one without lines, or of any run directory, also of an empty one.
std::vector<std::string> listJournals(const std::string& dir, int* lastRun = nullptr);

/// The records of one journal file, line by line, each with `run`. A line that is not a
/// record (cut by a kill) is kUnreadable; a missing file has none.
std::vector<JournalRecord> readJournalFile(const std::string& path, int run);

/// The run number in a journal's file name (journal-rRRR-...): 0 when it has none.
int journalRun(const std::string& path);

/// Every line of every journal of `dir` (listJournals' order, then line order).
std::vector<JournalRecord> readJournalRecords(const std::string& dir, int* lastRun = nullptr);

/// Reads every journal of `dir` (missing directory: empty state).
JournalState loadJournals(const std::string& dir);

/// The journals' records folded into a state: what loadJournals does after reading.
/// `dir` is where the tracks files are looked for (committed files must exist).
JournalState foldJournalRecords(const std::string& dir, const std::vector<JournalRecord>& records,
                                int lastRun);

/// The directory of run `run` (relative to the job directory): run-RRR.
std::string runDirName(int run);
/// File names of run `run`, producer `producer`, relative to the job directory (inside
/// runDirName(run)): what the journals record.
std::string tracksFileName(int run, int producer);
std::string journalFileName(int run, int producer);
/// The report of run `run`, relative to the job directory.
std::string runReportName(int run);
/// The reports of every run of `dir` (run-RRR/report.json, and the older report-rRRR.json),
/// by run number, as (run, path).
std::vector<std::pair<int, std::string>> listRunReports(const std::string& dir);

class JournalWriter {
 public:
  /// Opens (appends to) `path`, creating its directory (the run's) when missing; throws
  /// trkaas::Error if it cannot.
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
