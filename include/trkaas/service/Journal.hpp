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
#include <unordered_map>
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

/// Reads every journal of `dir` (missing directory: empty state), through a JournalDigest.
JournalState loadJournals(const std::string& dir);

/// The journals' records folded into a state, record by record: the definition of what
/// the journals say (loadJournals and JournalDigest give the same, faster; tests compare).
/// `dir` is where the tracks files are looked for (committed files must exist).
JournalState foldJournalRecords(const std::string& dir, const std::vector<JournalRecord>& records,
                                int lastRun);

/// A share of a directory's journals, read and kept in a form that merges: what lets
/// several ranks read the journals of a resume at once (each a share of the files) and one
/// of them combine the shares into the JournalState that loadJournals gives. The order of
/// two records of one event (which is later) comes from the journal's place in
/// listJournals' list and the line's place in the journal, so shares can be read and merged
/// in any order. Paths, tracks names and reasons are kept once each.
class JournalDigest {
 public:
  /// Reads journal file `path`, number `ordinal` in listJournals' list.
  void read(const std::string& path, int ordinal);
  /// Adds another share (of other journal files).
  void merge(const JournalDigest& other);
  /// Bytes for sending to another rank, and back (throws trkaas::Error on malformed bytes).
  std::vector<char> encode() const;
  static JournalDigest decode(const std::vector<char>& bytes);
  /// The state of `dir` (whose journals were read), as loadJournals gives it: each
  /// committed tracks file looked for once.
  JournalState state(const std::string& dir, int lastRun) const;
  /// Journal lines read (all kinds).
  std::int64_t lines() const { return m_lines; }

 private:
  /// A done or error record; strings are indices into m_strings.
  struct Entry {
    std::int64_t index = 0;
    std::int64_t order = 0;  ///< journal ordinal << 32 | line
    std::int32_t path = 0;
    std::int32_t text = 0;   ///< tracks file (done) or reason (error)
    std::int32_t error = 0;  ///< 0: done, 1: error
  };
  std::int32_t intern(const std::string& text);
  std::vector<std::string> m_strings;
  std::unordered_map<std::string, std::int32_t> m_stringIndex;
  std::vector<Entry> m_entries;
  std::vector<std::int32_t> m_committed;  ///< tracks files of commit records
  std::int64_t m_ignoredLines = 0;
  std::int64_t m_lines = 0;
};

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
