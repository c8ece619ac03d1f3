#include "trkaas/service/Journal.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "trkaas/core/Error.hpp"

namespace trkaas {

namespace fs = std::filesystem;

std::string tracksFileName(int run, int producer) {
  return fmt::format("tracks-r{:03d}-p{:04d}.h5", run, producer);
}

std::string journalFileName(int run, int producer) {
  return fmt::format("journal-r{:03d}-p{:04d}.jsonl", run, producer);
}

std::vector<JournalRecord> readJournalRecords(const std::string& dir, int* lastRun) {
  std::vector<JournalRecord> records;
  if (lastRun != nullptr) *lastRun = 0;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return records;
  std::vector<fs::path> journals;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("journal-r", 0) == 0 && entry.path().extension() == ".jsonl") {
      journals.push_back(entry.path());
    }
  }
  std::sort(journals.begin(), journals.end());  // run order, then producer order
  for (const fs::path& path : journals) {
    int run = 0;
    std::sscanf(path.filename().c_str(), "journal-r%d-", &run);
    if (lastRun != nullptr) *lastRun = std::max(*lastRun, run);
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
  }
  return records;
}

JournalState loadJournals(const std::string& dir) {
  JournalState state;
  std::map<EventKey, std::string> doneIn;  // event -> tracks file it was written to
  std::set<std::string> committed, mentioned;
  for (const JournalRecord& r : readJournalRecords(dir, &state.lastRun)) {
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
  std::error_code ec;
  for (const auto& [key, tracks] : doneIn) {
    if (committed.count(tracks) != 0 && fs::exists(fs::path(dir) / tracks, ec)) {
      state.done.insert(key);
      state.failed.erase(key);
    }
  }
  for (const std::string& f : mentioned) {
    const bool ok = committed.count(f) != 0 && fs::exists(fs::path(dir) / f, ec);
    (ok ? state.committedFiles : state.uncommittedFiles).push_back(f);
  }
  for (const std::string& f : committed) {
    if (mentioned.count(f) == 0 && fs::exists(fs::path(dir) / f, ec)) {
      state.committedFiles.push_back(f);  // a committed file without events
    }
  }
  std::sort(state.committedFiles.begin(), state.committedFiles.end());
  return state;
}

JournalWriter::JournalWriter(const std::string& path) : m_path(path) {
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
