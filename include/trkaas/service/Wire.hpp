#pragma once
/// The messages between producer and server ranks, as flat byte buffers (one MPI message
/// each, MPI_BYTE). A request carries only what the pipeline needs: the hits of the
/// configured detector volumes (and their cells when the features need cells); the
/// result carries one label per request hit, or the reason the event failed, and the
/// server's timings.
///
/// Layout: a 4-byte magic and a 4-byte version, then fixed fields, then each column as
/// an 8-byte length and its elements (native little-endian; producer and server run the
/// same binary). Decoding checks every length against the buffer and throws
/// trkaas::Error on a malformed or truncated message.

#include <cstdint>
#include <string>
#include <vector>

#include "trkaas/core/Event.hpp"
#include "trkaas/pipeline/Pipeline.hpp"

namespace trkaas {

struct Request {
  std::int64_t requestId = 0;  ///< the producer's number for this request
  std::int64_t eventId = 0;
  Hits hits;    ///< the hits the pipeline sees (configured volumes only)
  Cells cells;  ///< empty unless the features need cells
};

struct Result {
  std::int64_t requestId = 0;
  std::int64_t eventId = 0;
  bool ok = false;
  std::string error;                ///< why the event failed (when !ok)
  std::vector<std::int64_t> label;  ///< one per request hit (when ok)
  StageRecord record;               ///< the pipeline's stage times and edge counts
  double queueMs = 0;               ///< time the request waited in the server's queue
  double serviceMs = 0;             ///< time from the server's receipt to the result being ready
  /// The server's requests queued or running when this result left: the producers'
  /// measure of its free capacity.
  std::int32_t serverLoad = 0;
};

std::vector<char> encode(const Request& request);
std::vector<char> encode(const Result& result);
/// Throw trkaas::Error naming `from` (e.g. "rank 3") on a malformed message.
Request decodeRequest(const std::vector<char>& bytes, const std::string& from);
Result decodeResult(const std::vector<char>& bytes, const std::string& from);

}  // namespace trkaas
