#include "trkaas/service/Wire.hpp"

#include <cstring>
#include <type_traits>

#include "trkaas/core/Error.hpp"

namespace trkaas {

namespace {

constexpr std::uint32_t kRequestMagic = 0x51524b54;  // "TKRQ"
constexpr std::uint32_t kResultMagic = 0x53524b54;   // "TKRS"
constexpr std::uint32_t kVersion = 1;

class Writer {
 public:
  template <typename T>
  void put(const T& v) {
    static_assert(std::is_trivially_copyable_v<T>);
    const char* p = reinterpret_cast<const char*>(&v);
    m_bytes.insert(m_bytes.end(), p, p + sizeof(T));
  }
  template <typename T>
  void putColumn(const std::vector<T>& v) {
    put<std::uint64_t>(v.size());
    const char* p = reinterpret_cast<const char*>(v.data());
    m_bytes.insert(m_bytes.end(), p, p + v.size() * sizeof(T));
  }
  void putString(const std::string& s) {
    put<std::uint64_t>(s.size());
    m_bytes.insert(m_bytes.end(), s.begin(), s.end());
  }
  std::vector<char> take() { return std::move(m_bytes); }

 private:
  std::vector<char> m_bytes;
};

class Reader {
 public:
  Reader(const std::vector<char>& bytes, std::string what)
      : m_bytes(bytes), m_what(std::move(what)) {}
  template <typename T>
  T get() {
    need(sizeof(T));
    T v;
    std::memcpy(&v, m_bytes.data() + m_pos, sizeof(T));
    m_pos += sizeof(T);
    return v;
  }
  template <typename T>
  std::vector<T> getColumn() {
    const auto n = get<std::uint64_t>();
    if (n > (m_bytes.size() - m_pos) / sizeof(T)) fail("a column is longer than the message");
    std::vector<T> v(n);
    std::memcpy(v.data(), m_bytes.data() + m_pos, n * sizeof(T));
    m_pos += n * sizeof(T);
    return v;
  }
  std::string getString() {
    const auto n = get<std::uint64_t>();
    need(n);
    std::string s(m_bytes.data() + m_pos, n);
    m_pos += n;
    return s;
  }
  void header(std::uint32_t magic, const char* kind) {
    if (get<std::uint32_t>() != magic) fail(std::string("not a ") + kind + " message");
    const auto version = get<std::uint32_t>();
    if (version != kVersion) {
      fail("wire version " + std::to_string(version) + ", this binary speaks " +
           std::to_string(kVersion) + " (are all ranks the same trkaas?)");
    }
  }
  void finish() {
    if (m_pos != m_bytes.size()) fail("trailing bytes after the message");
  }
  [[noreturn]] void fail(const std::string& why) const {
    throw Error("malformed message from " + m_what + ": " + why);
  }

 private:
  void need(std::size_t n) const {
    if (n > m_bytes.size() - m_pos) fail("truncated");
  }
  const std::vector<char>& m_bytes;
  std::string m_what;
  std::size_t m_pos = 0;
};

template <typename T>
void sameLength(Reader& r, const std::vector<T>& column, std::size_t n) {
  if (column.size() != n) r.fail("columns of different lengths");
}

}  // namespace

std::vector<char> encode(const Request& q) {
  q.hits.checkSizes();
  Writer w;
  w.put(kRequestMagic);
  w.put(kVersion);
  w.put(q.requestId);
  w.put(q.eventId);
  w.putColumn(q.hits.hitId);
  w.putColumn(q.hits.x);
  w.putColumn(q.hits.y);
  w.putColumn(q.hits.z);
  w.putColumn(q.hits.volumeId);
  w.putColumn(q.hits.layerId);
  w.putColumn(q.hits.moduleId);
  w.putColumn(q.cells.hitId);
  w.putColumn(q.cells.ch0);
  w.putColumn(q.cells.ch1);
  w.putColumn(q.cells.value);
  return w.take();
}

Request decodeRequest(const std::vector<char>& bytes, const std::string& from) {
  Reader r(bytes, from);
  r.header(kRequestMagic, "request");
  Request q;
  q.requestId = r.get<std::int64_t>();
  q.eventId = r.get<std::int64_t>();
  q.hits.hitId = r.getColumn<std::int64_t>();
  const std::size_t n = q.hits.hitId.size();
  q.hits.x = r.getColumn<float>();
  q.hits.y = r.getColumn<float>();
  q.hits.z = r.getColumn<float>();
  q.hits.volumeId = r.getColumn<std::int32_t>();
  q.hits.layerId = r.getColumn<std::int32_t>();
  q.hits.moduleId = r.getColumn<std::int32_t>();
  for (const auto* c : {&q.hits.x, &q.hits.y, &q.hits.z}) sameLength(r, *c, n);
  for (const auto* c : {&q.hits.volumeId, &q.hits.layerId, &q.hits.moduleId}) {
    sameLength(r, *c, n);
  }
  q.cells.hitId = r.getColumn<std::int64_t>();
  q.cells.ch0 = r.getColumn<std::int32_t>();
  q.cells.ch1 = r.getColumn<std::int32_t>();
  q.cells.value = r.getColumn<float>();
  const std::size_t m = q.cells.hitId.size();
  sameLength(r, q.cells.ch0, m);
  sameLength(r, q.cells.ch1, m);
  sameLength(r, q.cells.value, m);
  r.finish();
  return q;
}

std::vector<char> encode(const Result& s) {
  Writer w;
  w.put(kResultMagic);
  w.put(kVersion);
  w.put(s.requestId);
  w.put(s.eventId);
  w.put<std::uint8_t>(s.ok ? 1 : 0);
  w.putString(s.error);
  w.putColumn(s.label);
  const StageRecord& t = s.record;
  for (double v : t.ms.value) w.put(v);
  for (std::int64_t v : {t.hits, t.graphEdges, t.filterEdges, t.gnnEdges, t.tracks}) w.put(v);
  w.put(s.queueMs);
  w.put(s.serviceMs);
  w.put(s.serverLoad);
  return w.take();
}

Result decodeResult(const std::vector<char>& bytes, const std::string& from) {
  Reader r(bytes, from);
  r.header(kResultMagic, "result");
  Result s;
  s.requestId = r.get<std::int64_t>();
  s.eventId = r.get<std::int64_t>();
  s.ok = r.get<std::uint8_t>() != 0;
  s.error = r.getString();
  s.label = r.getColumn<std::int64_t>();
  StageRecord& t = s.record;
  for (double& v : t.ms.value) v = r.get<double>();
  for (std::int64_t* v : {&t.hits, &t.graphEdges, &t.filterEdges, &t.gnnEdges, &t.tracks}) {
    *v = r.get<std::int64_t>();
  }
  s.queueMs = r.get<double>();
  s.serviceMs = r.get<double>();
  s.serverLoad = r.get<std::int32_t>();
  r.finish();
  return s;
}

}  // namespace trkaas
