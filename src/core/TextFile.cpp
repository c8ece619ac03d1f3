#include "trkaas/core/TextFile.hpp"

#include <sys/stat.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "trkaas/core/Error.hpp"
#include "trkaas/core/Logger.hpp"

namespace trkaas {

namespace {
constexpr std::size_t kReadBlock = std::size_t{1} << 20;
}  // namespace

struct LineReader::Impl {
  std::int64_t eventId = InputError::kNoEvent;
  gzFile file = nullptr;
  std::vector<char> buffer = std::vector<char>(kReadBlock);
  std::size_t begin = 0;  // the unread bytes are buffer[begin, end)
  std::size_t end = 0;
  bool eof = false;
  std::size_t lineNumber = 0;
  std::string copy;  // next(std::string&)'s line

  bool finish(std::string_view& line) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    ++lineNumber;
    return true;
  }

  /// Reads the next block behind the partial line kept at the start of the buffer (grown
  /// for very long lines).
  void fill(const std::string& path) {
    const std::size_t kept = end - begin;
    if (begin > 0 && kept > 0) std::memmove(buffer.data(), buffer.data() + begin, kept);
    begin = 0;
    end = kept;
    if (buffer.size() - end < kReadBlock / 2) buffer.resize(buffer.size() * 2);
    const unsigned room = static_cast<unsigned>(
        std::min<std::size_t>(buffer.size() - end, static_cast<std::size_t>(1) << 30));
    const int got = gzread(file, buffer.data() + end, room);
    int err = Z_OK;
    const char* msg = gzerror(file, &err);
    if (err == Z_BUF_ERROR) {
      // zlib sets Z_BUF_ERROR only when the compressed stream ends before its trailer.
      throw InputError(path, eventId,
                       "truncated gzip file: compressed data ends early, after line " +
                           std::to_string(lineNumber));
    }
    if (got < 0 || err != Z_OK) {
      throw InputError(path, eventId,
                       "read error after line " + std::to_string(lineNumber) + ": " + msg);
    }
    end += static_cast<std::size_t>(got);
    if (got == 0) eof = true;
  }
};

LineReader::LineReader(const std::string& path, std::int64_t eventId)
    : m_impl(std::make_unique<Impl>()), m_path(path) {
  m_impl->eventId = eventId;
  if (!fileExists(path)) {
    throw InputError(path, eventId,
                     isDirectory(path) ? "is a directory, not a file" : "no such file");
  }
  m_impl->file = gzopen(path.c_str(), "rb");
  if (m_impl->file == nullptr) {
    throw InputError(path, eventId,
                     std::string("cannot open for reading: ") + std::strerror(errno));
  }
  gzbuffer(m_impl->file, 1 << 18);
}

LineReader::~LineReader() {
  if (m_impl && m_impl->file != nullptr) gzclose(m_impl->file);
}

std::size_t LineReader::lineNumber() const { return m_impl->lineNumber; }

bool LineReader::next(std::string_view& line) {
  Impl& d = *m_impl;
  while (true) {
    const char* begin = d.buffer.data() + d.begin;
    const char* end = d.buffer.data() + d.end;
    const void* newline = std::memchr(begin, '\n', static_cast<std::size_t>(end - begin));
    if (newline != nullptr) {
      const char* nl = static_cast<const char*>(newline);
      line = std::string_view(begin, static_cast<std::size_t>(nl - begin));
      d.begin = static_cast<std::size_t>(nl - d.buffer.data()) + 1;
      return d.finish(line);
    }
    if (d.eof) {
      if (d.begin == d.end) return false;
      line = std::string_view(begin, d.end - d.begin);
      d.begin = d.end;
      return d.finish(line);
    }
    d.fill(m_path);
  }
}

bool LineReader::next(std::string& line) {
  std::string_view view;
  if (!next(view)) {
    line.clear();
    return false;
  }
  line.assign(view.data(), view.size());
  return true;
}

struct TextWriter::Impl {
  gzFile gz = nullptr;
  std::FILE* plain = nullptr;
};

TextWriter::TextWriter(const std::string& path, bool gzip)
    : m_impl(std::make_unique<Impl>()), m_path(path) {
  if (gzip) {
    m_impl->gz = gzopen(path.c_str(), "wb1");
    if (m_impl->gz == nullptr) {
      throw Error("cannot open '" + path + "' for writing: " + std::strerror(errno));
    }
    gzbuffer(m_impl->gz, 1 << 18);
  } else {
    m_impl->plain = std::fopen(path.c_str(), "wb");
    if (m_impl->plain == nullptr) {
      throw Error("cannot open '" + path + "' for writing: " + std::strerror(errno));
    }
  }
}

TextWriter::~TextWriter() {
  try {
    close();
  } catch (const std::exception& e) {
    logger().error("{}", e.what());
  }
}

void TextWriter::write(std::string_view text) {
  if (text.empty()) return;
  if (m_impl->gz != nullptr) {
    if (gzwrite(m_impl->gz, text.data(), static_cast<unsigned>(text.size())) == 0) {
      throw Error("write to '" + m_path + "' failed");
    }
  } else if (m_impl->plain != nullptr) {
    if (std::fwrite(text.data(), 1, text.size(), m_impl->plain) != text.size()) {
      throw Error("write to '" + m_path + "' failed: " + std::strerror(errno));
    }
  } else {
    throw Error("write to '" + m_path + "' after close");
  }
}

void TextWriter::close() {
  if (m_impl->gz != nullptr) {
    const int rc = gzclose(m_impl->gz);
    m_impl->gz = nullptr;
    if (rc != Z_OK)
      throw Error("closing '" + m_path + "' failed (zlib code " + std::to_string(rc) + ")");
  }
  if (m_impl->plain != nullptr) {
    const int rc = std::fclose(m_impl->plain);
    m_impl->plain = nullptr;
    if (rc != 0) throw Error("closing '" + m_path + "' failed: " + std::strerror(errno));
  }
}

void splitCsv(std::string_view line, std::vector<std::string_view>& fields) {
  fields.clear();
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = line.find(',', start);
    if (comma == std::string_view::npos) {
      fields.push_back(line.substr(start));
      return;
    }
    fields.push_back(line.substr(start, comma - start));
    start = comma + 1;
  }
}

bool isDirectory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool fileExists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::vector<std::string> readListFile(const std::string& path) {
  std::vector<std::string> entries;
  LineReader list(path);
  for (std::string line; list.next(line);) {
    const auto first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos || line[first] == '#') continue;
    const auto last = line.find_last_not_of(" \t\r");
    entries.push_back(line.substr(first, last - first + 1));
  }
  return entries;
}

}  // namespace trkaas
