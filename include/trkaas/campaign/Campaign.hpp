#pragma once
/// Reprocessing campaigns: many input files split into chunks, each chunk one job (a task
/// of a Slurm job array) that runs `trkaas run --mode service` into its own output
/// directory. The journals of the chunk directories are the truth: status, verification
/// and resubmission are computed from them, never from what Slurm says.
///
///   DIR/campaign.json                the plan (inputs with their event counts, chunks)
///   DIR/chunks/chunk-NNNN/inputs.txt the chunk's input files, one per line
///   DIR/chunks/chunk-NNNN/args       the chunk's `trkaas run` arguments, one per line
///   DIR/chunks/chunk-NNNN/...        the service's output (tracks, journals, reports)
///   DIR/logs/chunk-NNNN.log          the Slurm log of the chunk (all its runs)
///   DIR/submissions.jsonl            one line per submission: job id and chunks

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace trkaas::campaign {

struct PlanConfig {
  std::string dir;                      ///< campaign directory (created; must hold no plan yet)
  std::vector<std::string> inputs;      ///< event files
  std::string pipelineConfig;           ///< `trkaas run -c`
  std::vector<std::string> runArgs;     ///< further `trkaas run` arguments for every chunk
  double ratePerNode = 0;               ///< events/s one node sustains (or: calibration)
  std::string calibrationReport;        ///< a report.json whose events_per_s / nodes sets it
  int nodes = 1;                        ///< nodes per chunk job
  double timeLimitSeconds = 7200;       ///< the chunk jobs' time limit
  double marginSeconds = 300;           ///< start-up, model loading and the clean stop
  std::int64_t eventsPerChunk = 0;      ///< fixed chunk size instead of the time budget
  std::string script;                   ///< batch script, e.g. jobs/perlmutter-gpu.sbatch
  std::string profile;                  ///< site profile for jobs/submit.sh
  std::vector<std::string> sbatchArgs;  ///< extra sbatch options (account, QOS, ...)
};

struct InputInfo {
  std::string path;         ///< absolute, as the service's journals name it
  std::int64_t events = 0;  ///< -1: unreadable when planned
  std::string error;        ///< why it is unreadable
  int chunk = -1;
};

struct Chunk {
  int index = 0;
  std::vector<int> inputs;  ///< indices into Campaign::inputs
  std::int64_t events = 0;
};

struct Campaign {
  std::string dir;  ///< absolute
  PlanConfig config;
  std::vector<InputInfo> inputs;
  std::vector<Chunk> chunks;
  std::int64_t eventsPerChunk = 0;  ///< the budget the chunks were cut to

  std::string chunkDir(int chunk) const;  ///< DIR/chunks/chunk-NNNN
  std::int64_t totalEvents() const;
};

/// Reads the event counts, cuts chunks of whole files (in the given order) to the budget,
/// writes the plan and the chunk directories. Throws trkaas::Error naming the problem.
Campaign planCampaign(const PlanConfig& config);
/// Reads DIR/campaign.json.
Campaign loadCampaign(const std::string& dir);

/// What the journals and tracks files of one chunk say.
struct ChunkStatus {
  int index = 0;
  std::int64_t planned = 0;       ///< events in the chunk's readable inputs
  std::int64_t done = 0;          ///< with a committed tracks record
  std::int64_t failed = 0;        ///< with an error record and no tracks record
  std::int64_t missing = 0;       ///< neither (not run yet, or lost with a killed run)
  std::int64_t duplicates = 0;    ///< events with more than one tracks record (verify)
  std::int64_t fileErrors = 0;    ///< inputs that could not be read at all (one error record)
  std::int64_t missingFiles = 0;  ///< unreadable inputs without their error record yet
  int runs = 0;                   ///< service runs on the chunk directory
  std::map<std::string, std::int64_t> reasons;  ///< failure reason -> events
  std::vector<std::string> problems;            ///< what verify found wrong, readable
  bool complete() const {
    return missing == 0 && missingFiles == 0 && duplicates == 0 && problems.empty();
  }
};

/// Status of every chunk. `verify` also opens every committed tracks file and checks that
/// its events are exactly the journal's (each planned event: exactly one tracks record or
/// one error record, nothing extra).
std::vector<ChunkStatus> campaignStatus(const Campaign& campaign, bool verify);

/// "0-3,7,9-10" from sorted chunk indices.
std::string arraySpec(const std::vector<int>& chunks);

/// The submission command (a shell line) for these chunks: jobs/submit.sh next to the
/// script, with --array, --time, --nodes, the log files and TRKAAS_CAMPAIGN in the
/// environment. `extraRunArgs` (e.g. --retry-failed) reach every chunk's trkaas run.
std::string submitCommand(const Campaign& campaign, const std::vector<int>& chunks,
                          const std::vector<std::string>& extraRunArgs, int maxParallel);

/// Runs the command, records it in DIR/submissions.jsonl; returns the job id sbatch printed.
std::string submit(const Campaign& campaign, const std::vector<int>& chunks,
                   const std::vector<std::string>& extraRunArgs, int maxParallel);

/// Chunks with a task pending or running in Slurm (squeue), from DIR/submissions.jsonl;
/// empty when squeue is unavailable. `known` is false then.
std::map<int, std::string> queuedChunks(const Campaign& campaign, bool& known);

/// Merges the reports of every run of every chunk: writes DIR/report.json (totals) and
/// DIR/runs.csv (one row per run, trkaas report's columns); returns the totals as text.
std::string mergeReports(const Campaign& campaign);

std::string shellQuote(const std::string& s);

}  // namespace trkaas::campaign
