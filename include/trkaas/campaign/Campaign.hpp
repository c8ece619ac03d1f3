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
///   DIR/submissions.jsonl            one line per submission: job id, chunks, array offset
///   DIR/arrays/offset-N/chunks/chunk-MMMM -> ../../../chunks/chunk-(N+MMMM)
///                                    views for arrays beyond Slurm's MaxArraySize: task
///                                    MMMM of an array with offset N runs chunk N+MMMM
///   DIR/resubmit.sbatch              the automatic resubmission job (submit --auto-resubmit)
///   DIR/logs/resubmit-JOB.log        its logs

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace trkaas::campaign {

struct PlanConfig {
  std::string dir;                   ///< campaign directory (created; must hold no plan yet)
  std::vector<std::string> inputs;   ///< event files
  std::string pipelineConfig;        ///< `trkaas run -c`
  std::vector<std::string> runArgs;  ///< further `trkaas run` arguments for every chunk
  double ratePerNode = 0;            ///< events/s one node sustains (or: calibration)
  std::string calibrationReport;     ///< a report.json whose events_per_s / nodes sets it
  int nodes = 1;                     ///< nodes per chunk job
  double timeLimitSeconds = 7200;    ///< the chunk jobs' time limit
  double timeMinSeconds = 0;         ///< sbatch --time-min (0: none); chunks fit in it
  double marginSeconds = 300;        ///< start-up, model loading and the clean stop
  double fill = 0.85;  ///< chunks sized to this fraction of the (minimum) time limit at most
  std::int64_t eventsPerChunk = 0;      ///< fixed chunk size instead of the time budget
  std::string script;                   ///< batch script, e.g. jobs/perlmutter-gpu.sbatch
  std::string profile;                  ///< site profile for jobs/submit.sh
  std::vector<std::string> sbatchArgs;  ///< extra sbatch options (account, QOS, ...)
  /// sbatch options of the automatic resubmission job, after sbatchArgs (e.g. a small CPU
  /// job on a shared QOS instead of a GPU node).
  std::vector<std::string> resubmitSbatchArgs;
};

/// Seconds of a chunk job planned for events: min(fill x T, T - margin), where T is the
/// minimum time limit when there is one (the job may get no more), else the time limit.
double chunkBudgetSeconds(const PlanConfig& config);

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
/// one error record, nothing extra). Chunks are read by `threads` threads (0: twice the
/// cores, 4 to 32: the work is mostly waiting on the file system); each tracks file's
/// existence is checked once, not once per event; HDF5 (not thread-safe) is read by one
/// thread at a time.
std::vector<ChunkStatus> campaignStatus(const Campaign& campaign, bool verify, int threads = 0);

/// Exit codes of `trkaas campaign verify` and of the last automatic resubmission job, in
/// line with `trkaas run`'s (include/trkaas/service/Service.hpp: 0, 1, 3):
/// 0: every planned event has exactly one tracks record.
constexpr int kCampaignComplete = 0;
/// 1: something no rerun fixes: duplicated events, tracks files that disagree with their
/// journals, committed files that are gone (or an error before any check).
constexpr int kCampaignFailed = 1;
/// 3: events (or unreadable files) without any record yet: resubmit to finish.
constexpr int kCampaignWorkLeft = 3;
/// 4: done: every event exactly once, but some as error records (or unreadable files);
/// `resubmit --retry-failed` redoes them.
constexpr int kCampaignDoneWithFailures = 4;
/// The code (above) that these statuses call for; 1 takes precedence over 3, 3 over 4.
int campaignExitCode(const std::vector<ChunkStatus>& status);

/// "0-3,7,9-10" from sorted chunk indices.
std::string arraySpec(const std::vector<int>& chunks);

/// Slurm's default MaxArraySize: array indices 0-1000.
constexpr int kDefaultMaxArraySize = 1001;
/// MaxArraySize of the cluster (`scontrol show config`); kDefaultMaxArraySize when unknown.
int slurmMaxArraySize();

struct SubmitOptions {
  std::vector<std::string> extraRunArgs;  ///< reach every chunk's trkaas run (--retry-failed)
  /// At most this many chunks at once (0: no limit): array %N, and several arrays run one
  /// after the other (--dependency=afterany on the previous one).
  int maxParallel = 0;
  int maxArraySize = 0;  ///< array indices stay below it (0: slurmMaxArraySize())
  /// Automatic resubmission (-1: none): a job after the arrays (--dependency=afterany) that
  /// resubmits the chunks still incomplete, at most this many more times, then verifies.
  int autoResubmit = -1;
  /// Further jobs the automatic resubmission job waits for (chunks still queued).
  std::vector<std::string> followUpAlsoAfter;
};

/// One job array of a submission: chunks offset+i for its array indices i. Chunks up to
/// the array size need one array (offset 0, TRKAAS_CAMPAIGN=DIR as always); beyond, arrays
/// get offsets in blocks of a power of ten and TRKAAS_CAMPAIGN=DIR/arrays/offset-N (whose
/// chunk-MMMM entries point to the chunks), so the batch scripts need no change.
struct ArrayJob {
  int offset = 0;
  std::vector<int> chunks;  ///< campaign chunk numbers (sorted)
  std::string command;      ///< the shell line (jobs/submit.sh ...)
  std::string job;          ///< the job id, once submitted
};

/// The arrays (commands not yet run) for these sorted chunks; creates the views the
/// offsets need. `dependency` (e.g. "afterany:123") goes to the first array; the later
/// ones depend on their predecessor when maxParallel is set, written as "afterany:PREVIOUS"
/// until submit() knows the id.
std::vector<ArrayJob> arrayJobs(const Campaign& campaign, const std::vector<int>& chunks,
                                const SubmitOptions& options, int maxArraySize);

/// Submits the arrays (records each in DIR/submissions.jsonl), then, with autoResubmit,
/// the resubmission job after them. Returns the arrays with their job ids.
std::vector<ArrayJob> submit(const Campaign& campaign, const std::vector<int>& chunks,
                             const SubmitOptions& options);

/// The automatic resubmission job: after `afterJobs` end, `trkaas campaign resubmit DIR
/// --follow-up ROUNDS` in DIR/resubmit.sbatch (written here) through jobs/submit.sh.
std::string followUpCommand(const Campaign& campaign, const std::vector<std::string>& afterJobs,
                            int rounds, bool retryFailed);
/// Runs followUpCommand and records it in DIR/submissions.jsonl; returns its job id.
std::string submitFollowUp(const Campaign& campaign, const std::vector<std::string>& afterJobs,
                           int rounds, bool retryFailed);

/// A chunk's task in Slurm: its state and the (array) job id.
struct QueuedTask {
  std::string state;
  std::string job;
};
/// Chunks with a task pending or running in Slurm (squeue), from DIR/submissions.jsonl;
/// empty when squeue is unavailable. `known` is false then.
std::map<int, QueuedTask> queuedChunks(const Campaign& campaign, bool& known);
/// The campaign's automatic resubmission jobs still in Slurm (job id and state).
std::vector<QueuedTask> queuedResubmissions(const Campaign& campaign);
/// The chunks in `squeue -h -r -o '%i %T'` output that belong to these submissions
/// (array job id -> offset of its array indices).
std::map<int, QueuedTask> parseQueue(const std::string& squeueOutput,
                                     const std::map<std::string, int>& offsetOfJob);

/// What `resubmit` does, from the chunks' status and what Slurm still holds.
struct ResubmitPlan {
  enum Action {
    kNothing,       ///< nothing incomplete outside Slurm, no automatic resubmission
    kSubmit,        ///< submit `chunks` (then a resubmission job, when followUpRounds >= 0)
    kWait,          ///< only queued chunks are incomplete: a resubmission job after them
    kRoundsUsedUp,  ///< a resubmission job with no rounds left finds `chunks` incomplete
    kFinished,      ///< a resubmission job finds nothing left to run: verify ends it
  };
  Action action = kNothing;
  std::vector<int> chunks;           ///< incomplete, not in Slurm
  std::vector<std::string> waitFor;  ///< array jobs of incomplete chunks still in Slurm
  int followUpRounds = -1;           ///< rounds of the resubmission job to submit (-1: none)
};
/// Chunks need a rerun with missing events or unreadable files without a record (and, with
/// retryFailed, with error records); those still queued are waited for, never submitted
/// twice. `autoResubmit`: rounds asked for on the command line (-1: none); `followUp`:
/// rounds left when run as the resubmission job (-1: not one), one used per submission.
ResubmitPlan planResubmit(const std::vector<ChunkStatus>& status,
                          const std::map<int, QueuedTask>& queued, bool retryFailed,
                          int autoResubmit, int followUp);

/// Merges the reports of every run of every chunk: writes DIR/report.json (totals) and
/// DIR/runs.csv (one row per run, trkaas report's columns); returns the totals as text.
std::string mergeReports(const Campaign& campaign);

std::string shellQuote(const std::string& s);

}  // namespace trkaas::campaign
