#include "CampaignDetail.hpp"

#include <cstdio>
#include <fstream>

#include <fmt/format.h>

#include "trkaas/core/Error.hpp"

namespace trkaas::campaign::detail {

namespace fs = std::filesystem;
using nlohmann::json;

std::string absolutePath(const std::string& p) {
  std::error_code ec;
  return fs::weakly_canonical(fs::absolute(p), ec).string();
}

void writeText(const fs::path& path, const std::string& text) {
  const fs::path part = path.string() + ".part";
  {
    std::ofstream out(part);
    out << text;
    if (!out.flush()) throw Error("cannot write '" + part.string() + "'");
  }
  std::error_code ec;
  fs::rename(part, path, ec);
  if (ec) throw Error("cannot rename '" + part.string() + "': " + ec.message());
}

json readJson(const fs::path& path) {
  std::ifstream in(path);
  if (!in) throw Error("'" + path.string() + "': cannot open");
  json j = json::parse(in, nullptr, false);
  if (j.is_discarded()) throw Error("'" + path.string() + "': not valid JSON");
  return j;
}

std::string firstLine(const std::string& s, std::size_t max) {
  std::string t = s.substr(0, s.find('\n'));
  return t.size() > max ? t.substr(0, max) + "..." : t;
}

/// Output of a shell command (stdout), and its exit status.
std::string capture(const std::string& command, int& status) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) {
    status = -1;
    return out;
  }
  char buffer[4096];
  for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) out.append(buffer, n);
  status = ::pclose(pipe);
  return out;
}

std::string jobName(const Campaign& c) { return "trkaas-" + fs::path(c.dir).filename().string(); }

std::string slurmTime(double seconds) {
  const auto s = static_cast<long>(seconds);
  return fmt::format("{}:{:02d}:{:02d}", s / 3600, (s / 60) % 60, s % 60);
}

}  // namespace trkaas::campaign::detail
