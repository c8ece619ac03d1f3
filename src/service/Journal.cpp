#include "trkaas/service/Journal.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "trkaas/core/Error.hpp"

namespace trkaas {

namespace fs = std::filesystem;

std::string runDirName(int run) { return fmt::format("run-{:03d}", run); }

std::string tracksFileName(int run, int producer) {
  return fmt::format("{}/tracks-r{:03d}-p{:04d}.h5", runDirName(run), run, producer);
}

std::string journalFileName(int run, int producer) {
  return fmt::format("{}/journal-r{:03d}-p{:04d}.jsonl", runDirName(run), run, producer);
}

std::string runReportName(int run) { return runDirName(run) + "/report.json"; }

namespace {

/// The number after `prefix` at the start of `name` (run-RRR, journal-rRRR-, report-rRRR.),
/// or 0 when `name` does not start so.
int numberAfter(const std::string& name, const std::string& prefix) {
  if (name.rfind(prefix, 0) != 0) return 0;
  return std::atoi(name.c_str() + prefix.size());
}

bool isJournal(const fs::path& path) {
  return path.filename().string().rfind("journal-r", 0) == 0 && path.extension() == ".jsonl";
}

/// The run directories of `dir` (run-RRR) as (run, path).
std::vector<std::pair<int, fs::path>> runDirectories(const fs::path& dir) {
  std::vector<std::pair<int, fs::path>> runs;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const int run = numberAfter(it->path().filename().string(), "run-");
    if (run > 0 && it->is_directory(ec)) runs.emplace_back(run, it->path());
  }
  std::sort(runs.begin(), runs.end());
  return runs;
}

void addJournals(const fs::path& dir, std::vector<fs::path>& journals) {
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (isJournal(it->path())) journals.push_back(it->path());
  }
}

}  // namespace

int journalRun(const std::string& path) {
  return numberAfter(fs::path(path).filename().string(), "journal-r");
}

std::vector<std::string> listJournals(const std::string& dir, int* lastRun) {
  if (lastRun != nullptr) *lastRun = 0;
  std::vector<fs::path> journals;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return {};
  addJournals(dir, journals);  // the older layout: everything in `dir`
  for (const auto& [run, path] : runDirectories(dir)) {
    if (lastRun != nullptr) *lastRun = std::max(*lastRun, run);
    addJournals(path, journals);
  }
  // By file name: run order, then producer order, whichever directory they are in.
  std::sort(journals.begin(), journals.end(),
            [](const fs::path& a, const fs::path& b) { return a.filename() < b.filename(); });
  std::vector<std::string> out;
  out.reserve(journals.size());
  for (const fs::path& path : journals) {
    if (lastRun != nullptr) *lastRun = std::max(*lastRun, journalRun(path.string()));
    out.push_back(path.string());
  }
  return out;
}

std::vector<std::pair<int, std::string>> listRunReports(const std::string& dir) {
  std::vector<std::pair<int, std::string>> reports;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const int run = numberAfter(it->path().filename().string(), "report-r");
    if (run > 0 && it->path().extension() == ".json") reports.emplace_back(run, it->path());
  }
  for (const auto& [run, path] : runDirectories(dir)) {
    const fs::path report = path / "report.json";
    if (fs::exists(report, ec)) reports.emplace_back(run, report.string());
  }
  std::sort(reports.begin(), reports.end());
  return reports;
}

std::vector<JournalRecord> readJournalFile(const std::string& path, int run) {
  std::vector<JournalRecord> records;
  std::ifstream in(path);
  for (std::string text; std::getline(in, text);) {
    JournalRecord r;
    r.run = run;
    const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
    try {
      if (j.is_object() && j.contains("commit")) {
        r.tracksFile = j["commit"].get<std::string>();
        r.events = j.value("events", std::int64_t{0});
        r.kind = JournalRecord::kCommit;
      } else if (j.is_object()) {
        r.key = {j.at("file").get<std::string>(), j.at("index").get<std::int64_t>()};
        r.eventId = j.value("event", std::int64_t{-1});
        if (j.at("status").get<std::string>() == "done") {
          r.tracksFile = j.at("tracks").get<std::string>();
          r.kind = JournalRecord::kDone;
        } else {
          r.reason = j.value("reason", std::string("unknown"));
          r.kind = JournalRecord::kError;
        }
      }
    } catch (const nlohmann::json::exception&) {
      r.kind = JournalRecord::kUnreadable;
    }
    records.push_back(std::move(r));
  }
  return records;
}

std::vector<JournalRecord> readJournalRecords(const std::string& dir, int* lastRun) {
  std::vector<JournalRecord> records;
  for (const std::string& path : listJournals(dir, lastRun)) {
    std::vector<JournalRecord> more = readJournalFile(path, journalRun(path));
    records.insert(records.end(), std::make_move_iterator(more.begin()),
                   std::make_move_iterator(more.end()));
  }
  return records;
}

JournalState foldJournalRecords(const std::string& dir, const std::vector<JournalRecord>& records,
                                int lastRun) {
  JournalState state;
  state.lastRun = lastRun;
  std::map<EventKey, std::string> doneIn;  // event -> tracks file it was written to
  std::set<std::string> committed, mentioned;
  for (const JournalRecord& r : records) {
    switch (r.kind) {
      case JournalRecord::kUnreadable:
        ++state.ignoredLines;
        break;
      case JournalRecord::kCommit:
        committed.insert(r.tracksFile);
        break;
      case JournalRecord::kDone:
        doneIn[r.key] = r.tracksFile;
        mentioned.insert(r.tracksFile);
        state.failed.erase(r.key);
        break;
      case JournalRecord::kError:
        state.failed[r.key] = r.reason;
        break;
    }
  }
  // Each committed file looked for once.
  std::set<std::string> usable;
  std::error_code ec;
  for (const std::string& f : committed) {
    if (fs::exists(fs::path(dir) / f, ec)) usable.insert(f);
  }
  for (const auto& [key, tracks] : doneIn) {
    if (usable.count(tracks) != 0) {
      state.done.insert(state.done.end(), key);
      state.failed.erase(key);
    }
  }
  for (const std::string& f : mentioned) {
    (usable.count(f) != 0 ? state.committedFiles : state.uncommittedFiles).push_back(f);
  }
  for (const std::string& f : usable) {
    if (mentioned.count(f) == 0) state.committedFiles.push_back(f);  // without events
  }
  std::sort(state.committedFiles.begin(), state.committedFiles.end());
  return state;
}

JournalState loadJournals(const std::string& dir) {
  int lastRun = 0;
  const std::vector<JournalRecord> records = readJournalRecords(dir, &lastRun);
  return foldJournalRecords(dir, records, lastRun);
}

JournalWriter::JournalWriter(const std::string& path) : m_path(path) {
  std::error_code ec;
  const fs::path parent = fs::path(path).parent_path();
  if (!parent.empty()) fs::create_directories(parent, ec);
  m_file = std::fopen(path.c_str(), "a");
  if (m_file == nullptr) {
    throw Error("journal '" + path + "': cannot open for appending: " + std::strerror(errno));
  }
}

JournalWriter::~JournalWriter() {
  if (m_file != nullptr) std::fclose(m_file);
}

void JournalWriter::line(const std::string& text, bool sync) {
  if (std::fputs(text.c_str(), m_file) < 0 || std::fputc('\n', m_file) == EOF ||
      std::fflush(m_file) != 0) {
    throw Error("journal '" + m_path + "': write failed: " + std::strerror(errno));
  }
  if (sync) fsync(fileno(m_file));
}

void JournalWriter::done(const EventKey& key, std::int64_t eventId, const std::string& tracks) {
  line(nlohmann::json{{"file", key.first},
                      {"index", key.second},
                      {"event", eventId},
                      {"status", "done"},
                      {"tracks", tracks}}
           .dump(),
       false);
}

void JournalWriter::error(const EventKey& key, std::int64_t eventId, const std::string& reason) {
  line(nlohmann::json{{"file", key.first},
                      {"index", key.second},
                      {"event", eventId},
                      {"status", "error"},
                      {"reason", reason}}
           .dump(),
       false);
}

void JournalWriter::commit(const std::string& tracksFile, std::int64_t events) {
  line(nlohmann::json{{"commit", tracksFile}, {"events", events}}.dump(), true);
}

}  // namespace trkaas
