#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "TrkaasCatch.hpp"
#include "trkaas/core/Error.hpp"
#include "trkaas/core/TextFile.hpp"

using namespace trkaas;

namespace {
std::string tmp(const std::string& name) { return std::string(TRKAAS_TEST_TMP) + "/" + name; }

std::vector<std::string> readAll(const std::string& path) {
  LineReader reader(path);
  std::vector<std::string> lines;
  std::string line;
  while (reader.next(line)) lines.push_back(line);
  return lines;
}

std::vector<std::string> numbered(int n) {
  std::vector<std::string> lines;
  for (int i = 0; i < n; ++i) lines.push_back(std::to_string(i * 7919) + ",x," + std::to_string(i));
  return lines;
}

void writeLines(const std::string& path, bool gzip, const std::vector<std::string>& lines) {
  TextWriter w(path, gzip);
  for (const auto& l : lines) w.write(l + "\n");
  w.close();
}
}  // namespace

TEST_CASE("text files: plain and gzip read back line by line", "[textfile]") {
  const auto lines = numbered(50000);
  for (bool gzip : {false, true}) {
    const std::string path = tmp(gzip ? "lines.csv.gz" : "lines.csv");
    writeLines(path, gzip, lines);
    std::ifstream in(path, std::ios::binary);
    const unsigned char first = static_cast<unsigned char>(in.get());
    REQUIRE((first == 0x1f) == gzip);  // gzip magic only when asked for
    REQUIRE(readAll(path) == lines);
  }
}

TEST_CASE("text files: CRLF, a last line without newline, long lines", "[textfile]") {
  const std::string path = tmp("crlf.csv");
  const std::string longLine(200000, 'a');
  std::ofstream(path, std::ios::binary) << "a,b\r\n" << longLine << "\nlast";
  const auto lines = readAll(path);
  REQUIRE(lines.size() == 3);
  REQUIRE(lines[0] == "a,b");
  REQUIRE(lines[1] == longLine);
  REQUIRE(lines[2] == "last");
}

TEST_CASE("text files: a cut gzip stream is an error, not a shorter file", "[textfile]") {
  const std::string full = tmp("full.csv.gz");
  writeLines(full, true, numbered(100000));
  std::ifstream in(full, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (std::size_t keep : {bytes.size() / 2, bytes.size() - 8, bytes.size() - 4}) {
    const std::string cut = tmp("cut.csv.gz");
    std::ofstream(cut, std::ios::binary | std::ios::trunc) << bytes.substr(0, keep);
    INFO("kept " << keep << " of " << bytes.size() << " bytes");
    REQUIRE_THROWS_WITH(readAll(cut), HasSubstring("file '" + cut + "': truncated"));
  }
}

TEST_CASE("text files: missing file and split", "[textfile]") {
  REQUIRE_THROWS_WITH(LineReader(tmp("nope.csv")), "file '" + tmp("nope.csv") + "': no such file");
  std::vector<std::string_view> fields;
  splitCsv("1,,2.5,", fields);
  REQUIRE(fields.size() == 4);
  REQUIRE(fields[0] == "1");
  REQUIRE(fields[1].empty());
  REQUIRE(fields[2] == "2.5");
  REQUIRE(fields[3].empty());
}
