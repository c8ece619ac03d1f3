#include "trkaas/core/TextFile.hpp"

#include <sys/stat.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>

#include "trkaas/core/Error.hpp"
#include "trkaas/core/Logger.hpp"

namespace trkaas {

struct LineReader::Impl {
  gzFile file = nullptr;
  std::vector<char> buffer = std::vector<char>(1 << 16);
};

LineReader::LineReader(const std::string& path) : m_impl(std::make_unique<Impl>()), m_path(path) {
  if (!fileExists(path)) {
    throw InputError(path, InputError::kNoEvent,
                     isDirectory(path) ? "is a directory, not a file" : "no such file");
  }
  m_impl->file = gzopen(path.c_str(), "rb");
  if (m_impl->file == nullptr) {
    throw InputError(path, InputError::kNoEvent,
                     std::string("cannot open for reading: ") + std::strerror(errno));
  }
  gzbuffer(m_impl->file, 1 << 18);
}

LineReader::~LineReader() {
  if (m_impl && m_impl->file != nullptr) gzclose(m_impl->file);
}

bool LineReader::next(std::string& line) {
  line.clear();
  while (true) {
    char* got =
        gzgets(m_impl->file, m_impl->buffer.data(), static_cast<int>(m_impl->buffer.size()));
    if (got == nullptr) {
      int err = Z_OK;
      const char* msg = gzerror(m_impl->file, &err);
      // zlib reports a gzip stream cut short as Z_BUF_ERROR at end of file: that is a
      // truncated file, not a short one.
      if (err == Z_BUF_ERROR) {
        throw InputError(m_path, InputError::kNoEvent,
                         "truncated compressed data after line " + std::to_string(m_lineNumber));
      }
      if (err != Z_OK) {
        throw InputError(m_path, InputError::kNoEvent,
                         "read error after line " + std::to_string(m_lineNumber) + ": " + msg);
      }
      if (line.empty()) return false;
      break;
    }
    line.append(got);
    if (!line.empty() && line.back() == '\n') break;
  }
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  ++m_lineNumber;
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
