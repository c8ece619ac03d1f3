#pragma once
/// The in-allocation service: one MPI job whose producer ranks read events and whose
/// server ranks run the pipeline, or (direct mode) whose every rank runs its own
/// pipeline. Every input event ends as exactly one tracks record or one error record in
/// the output directory (see Journal.hpp); a rerun on the same directory resumes.
///
/// Messages: a producer keeps at most `concurrency` requests in flight and sends each to
/// the server with the most free capacity it knows of (each result reports its server's
/// load; servers announce their worker count at start). A server's communication thread
/// receives requests into one queue served by `workers` threads sharing the models. A
/// producer whose requests are all answered tells rank 0 once; when every producer has,
/// rank 0 tells each server once that no request will come, and the servers end.
/// SIGTERM, SIGINT or SIGUSR1 make producers stop taking new events, finish the ones in
/// flight, close their files and journals; the job then ends normally (exit code 3 when
/// events are left, below).
/// Any other failure outside one event's processing ends the job with MPI_Abort.
/// No MPI types here: the job runs on MPI_COMM_WORLD, initialised by the caller.

#include <cstdint>
#include <string>
#include <vector>

#include "trkaas/pipeline/Pipeline.hpp"
#include "trkaas/service/Layout.hpp"

namespace trkaas {

struct ServiceConfig {
  /// Event files; their events are split evenly and deterministically over the producers.
  std::vector<std::string> inputs;
  /// Output directory (created): tracks and journal per producer, report.json.
  std::string outputDir;
  PipelineConfig pipeline;
  LayoutConfig layout;
  /// Direct mode: no servers; every rank is a producer running its own pipeline.
  bool direct = false;
  /// Requests a producer keeps in flight (>= 1).
  int concurrency = 4;
  /// Worker threads per server sharing one queue and the models (>= 1).
  int workers = 1;
  /// A server worker takes queued events together as one graph while their hits stay
  /// within this budget (0: one event at a time). For small events.
  std::int64_t batchHits = 0;
  /// Seconds between progress lines on rank 0 (> 0).
  double progressSeconds = 5.0;
  /// Process at most this many events in this run (-1: all that remain).
  std::int64_t maxEvents = -1;
  /// Also redo events whose earlier attempt ended in an error record.
  bool retryFailed = false;
  /// Extra copy of the final report (JSON); always written to outputDir/report.json.
  std::string reportJson;
  /// Stop after this many events per producer as if signalled (testing the stop path;
  /// -1: never).
  std::int64_t stopAfter = -1;
  /// Servers given a GPU by the layout run the pipeline on it (models loaded there once
  /// per server, one stream per worker) when the build and the node allow. kAuto: else on
  /// the CPU, saying why; kRequire: else the job fails with the reason; kOff: always CPU.
  enum class GpuUse { kAuto, kOff, kRequire };
  GpuUse gpu = GpuUse::kAuto;
  /// Arithmetic of the models on a GPU server.
  ExecutionOptions::Precision precision = ExecutionOptions::kFloat32;
  /// Edges per filter call on a GPU server (0: 2^21, or the pipeline's filter_chunk if larger).
  std::int64_t gpuEdgeChunk = 0;
};

/// Exit codes of an MPI job (`trkaas run -o DIR`; every rank returns the same one), so that
/// job scripts decide from srun's status alone.
/// 0: every event of this run got tracks.
constexpr int kExitComplete = 0;
/// 1: the job could not start (every rank says why); a fatal error ends in MPI_Abort, whose
/// code is also not 0, 3 or 4.
constexpr int kExitFailed = 1;
/// 3: stopped (SIGTERM, SIGINT, SIGUSR1 or --stop-after) with events left: rerun the same
/// command to resume. Takes precedence over 4: the rerun is what finishes the work.
constexpr int kExitStoppedWithWorkLeft = 3;
/// 4: done, with failures: every event of this run ended as a tracks record or an error
/// record, and some as error records (or inputs are unreadable; report.json and the
/// journals say which). Nothing to rerun; `--retry-failed` redoes them. The same code as
/// `trkaas campaign verify`'s "done with failures".
constexpr int kExitDoneWithFailures = 4;

/// Runs the job on every rank of MPI_COMM_WORLD. Returns the exit code (above).
int runService(const ServiceConfig& config);

}  // namespace trkaas
