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

std::int32_t JournalDigest::intern(const std::string& text) {
  const auto [it, added] = m_stringIndex.emplace(text, static_cast<std::int32_t>(m_strings.size()));
  if (added) m_strings.push_back(text);
  return it->second;
}

void JournalDigest::read(const std::string& path, int ordinal) {
  std::ifstream in(path);
  std::int64_t line = 0;
  for (std::string text; std::getline(in, text); ++line) {
    ++m_lines;
    const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
    try {
      if (j.is_object() && j.contains("commit")) {
        m_committed.push_back(intern(j["commit"].get<std::string>()));
        continue;
      }
      if (!j.is_object()) {
        ++m_ignoredLines;
        continue;
      }
      Entry e;
      e.index = j.at("index").get<std::int64_t>();
      e.order = (static_cast<std::int64_t>(ordinal) << 32) | line;
      const bool done = j.at("status").get<std::string>() == "done";
      const std::string text2 =
          done ? j.at("tracks").get<std::string>() : j.value("reason", std::string("unknown"));
      e.path = intern(j.at("file").get<std::string>());
      e.text = intern(text2);
      e.error = done ? 0 : 1;
      m_entries.push_back(e);
    } catch (const nlohmann::json::exception&) {
      ++m_ignoredLines;
    }
  }
}

void JournalDigest::merge(const JournalDigest& other) {
  std::vector<std::int32_t> mapped(other.m_strings.size());
  for (std::size_t k = 0; k < mapped.size(); ++k) mapped[k] = intern(other.m_strings[k]);
  m_entries.reserve(m_entries.size() + other.m_entries.size());
  for (Entry e : other.m_entries) {
    e.path = mapped[static_cast<std::size_t>(e.path)];
    e.text = mapped[static_cast<std::size_t>(e.text)];
    m_entries.push_back(e);
  }
  for (std::int32_t f : other.m_committed)
    m_committed.push_back(mapped[static_cast<std::size_t>(f)]);
  m_ignoredLines += other.m_ignoredLines;
  m_lines += other.m_lines;
}

namespace {

void put(std::vector<char>& out, const void* data, std::size_t size) {
  const char* p = static_cast<const char*>(data);
  out.insert(out.end(), p, p + size);
}

/// Reads from a byte buffer, each read checked against its end.
class ByteReader {
 public:
  explicit ByteReader(const std::vector<char>& bytes) : m_bytes(bytes) {}
  void get(void* data, std::size_t size) {
    if (size > m_bytes.size() - m_at) throw Error("journal digest: truncated bytes");
    std::memcpy(data, m_bytes.data() + m_at, size);
    m_at += size;
  }
  std::uint64_t count(std::size_t itemSize) {
    std::uint64_t n = 0;
    get(&n, sizeof n);
    if (n > (m_bytes.size() - m_at) / std::max<std::size_t>(itemSize, 1)) {
      throw Error("journal digest: a count beyond the bytes");
    }
    return n;
  }
  std::string text(std::size_t size) {
    std::string s(size, '\0');
    get(s.data(), size);
    return s;
  }

 private:
  const std::vector<char>& m_bytes;
  std::size_t m_at = 0;
};

}  // namespace

std::vector<char> JournalDigest::encode() const {
  std::vector<char> out;
  const std::uint64_t strings = m_strings.size(), entries = m_entries.size(),
                      committed = m_committed.size();
  put(out, &strings, sizeof strings);
  for (const std::string& s : m_strings) {
    const std::uint64_t size = s.size();
    put(out, &size, sizeof size);
    put(out, s.data(), s.size());
  }
  put(out, &entries, sizeof entries);
  put(out, m_entries.data(), m_entries.size() * sizeof(Entry));
  put(out, &committed, sizeof committed);
  put(out, m_committed.data(), m_committed.size() * sizeof(std::int32_t));
  put(out, &m_ignoredLines, sizeof m_ignoredLines);
  put(out, &m_lines, sizeof m_lines);
  return out;
}

JournalDigest JournalDigest::decode(const std::vector<char>& bytes) {
  JournalDigest d;
  ByteReader in(bytes);
  const std::uint64_t strings = in.count(sizeof(std::uint64_t));
  d.m_strings.reserve(strings);
  for (std::uint64_t k = 0; k < strings; ++k) {
    d.m_strings.push_back(in.text(in.count(1)));
    d.m_stringIndex.emplace(d.m_strings.back(), static_cast<std::int32_t>(k));
  }
  d.m_entries.resize(in.count(sizeof(Entry)));
  in.get(d.m_entries.data(), d.m_entries.size() * sizeof(Entry));
  d.m_committed.resize(in.count(sizeof(std::int32_t)));
  in.get(d.m_committed.data(), d.m_committed.size() * sizeof(std::int32_t));
  in.get(&d.m_ignoredLines, sizeof d.m_ignoredLines);
  in.get(&d.m_lines, sizeof d.m_lines);
  const auto known = [&](std::int32_t k) {
    return k >= 0 && static_cast<std::uint64_t>(k) < strings;
  };
  for (const Entry& e : d.m_entries) {
    if (!known(e.path) || !known(e.text)) throw Error("journal digest: a string beyond its table");
  }
  for (std::int32_t f : d.m_committed) {
    if (!known(f)) throw Error("journal digest: a string beyond its table");
  }
  return d;
}

JournalState JournalDigest::state(const std::string& dir, int lastRun) const {
  JournalState st;
  st.lastRun = lastRun;
  st.ignoredLines = m_ignoredLines;
  // Strings in text order, so that events come out sorted like EventKey.
  std::vector<std::int32_t> byText(m_strings.size());
  for (std::size_t k = 0; k < byText.size(); ++k) byText[k] = static_cast<std::int32_t>(k);
  std::sort(byText.begin(), byText.end(),
            [&](std::int32_t a, std::int32_t b) { return m_strings[a] < m_strings[b]; });
  std::vector<std::int32_t> rank(m_strings.size());
  for (std::size_t k = 0; k < byText.size(); ++k) rank[byText[k]] = static_cast<std::int32_t>(k);
  // Committed tracks files, each looked for once; and every file a done record names.
  std::vector<char> committed(m_strings.size(), 0), usable(m_strings.size(), 0),
      mentioned(m_strings.size(), 0);
  std::error_code ec;
  for (std::int32_t f : m_committed) {
    if (committed[f]) continue;
    committed[f] = 1;
    usable[f] = fs::exists(fs::path(dir) / m_strings[f], ec) ? 1 : 0;
  }
  std::vector<Entry> entries = m_entries;
  std::sort(entries.begin(), entries.end(), [&](const Entry& a, const Entry& b) {
    if (a.path != b.path) return rank[a.path] < rank[b.path];
    if (a.index != b.index) return a.index < b.index;
    return a.order < b.order;
  });
  // Per event: the last done record decides whether it is done; an error record after it
  // (or without one) makes it failed, unless it is done.
  for (std::size_t k = 0; k < entries.size();) {
    const Entry* lastDone = nullptr;
    const Entry* lastError = nullptr;
    std::size_t end = k;
    for (; end < entries.size() && entries[end].path == entries[k].path &&
           entries[end].index == entries[k].index;
         ++end) {
      const Entry& e = entries[end];
      if (e.error) {
        lastError = &e;
      } else {
        lastDone = &e;
        mentioned[e.text] = 1;
      }
    }
    EventKey key{m_strings[entries[k].path], entries[k].index};
    if (lastDone != nullptr && usable[lastDone->text]) {
      st.done.insert(st.done.end(), std::move(key));
    } else if (lastError != nullptr &&
               (lastDone == nullptr || lastError->order > lastDone->order)) {
      st.failed.emplace_hint(st.failed.end(), std::move(key), m_strings[lastError->text]);
    }
    k = end;
  }
  for (std::int32_t f : byText) {
    if (mentioned[f]) {
      (usable[f] ? st.committedFiles : st.uncommittedFiles).push_back(m_strings[f]);
    } else if (usable[f]) {
      st.committedFiles.push_back(m_strings[f]);  // a committed file without events
    }
  }
  std::sort(st.committedFiles.begin(), st.committedFiles.end());
  return st;
}

JournalState loadJournals(const std::string& dir) {
  int lastRun = 0;
  const std::vector<std::string> journals = listJournals(dir, &lastRun);
  JournalDigest digest;
  for (std::size_t k = 0; k < journals.size(); ++k) digest.read(journals[k], static_cast<int>(k));
  return digest.state(dir, lastRun);
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
