// Campaign submission: Slurm job arrays (with offsets beyond MaxArraySize), the automatic
// resubmission job, and what squeue says about them.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "CampaignDetail.hpp"
#include "trkaas/campaign/Campaign.hpp"
#include "trkaas/core/Error.hpp"
#include "trkaas/core/Logger.hpp"

namespace trkaas::campaign {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace detail;

std::string arraySpec(const std::vector<int>& chunks) {
  std::string s;
  for (std::size_t i = 0; i < chunks.size();) {
    std::size_t j = i;
    while (j + 1 < chunks.size() && chunks[j + 1] == chunks[j] + 1) ++j;
    if (!s.empty()) s += ',';
    s += j > i ? fmt::format("{}-{}", chunks[i], chunks[j]) : std::to_string(chunks[i]);
    i = j + 1;
  }
  return s;
}

int slurmMaxArraySize() {
  int status = 0;
  const std::string out = capture("scontrol show config 2>/dev/null", status);
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("MaxArraySize", 0) != 0) continue;
    const auto eq = line.find('=');
    try {
      if (eq != std::string::npos) return std::max(1, std::stoi(line.substr(eq + 1)));
    } catch (const std::exception&) {
    }
  }
  return kDefaultMaxArraySize;
}

namespace {

/// Array blocks are powers of ten, so that Slurm's %Na gives the chunk's number in the log
/// file name: chunk 1042 is task 42 of the array with offset 1000, logged by
/// "chunk-1%3a.log".
struct ArrayBlock {
  int size = 1;  ///< 10^digits
  int digits = 0;
};

ArrayBlock arrayBlock(int maxArraySize) {
  ArrayBlock b;
  while (b.size <= maxArraySize / 10) {
    b.size *= 10;
    ++b.digits;
  }
  if (b.digits == 0) {
    throw Error(
        fmt::format("Slurm's MaxArraySize is {}: too small for campaign arrays", maxArraySize));
  }
  return b;
}

/// --output of an array: DIR/logs/chunk-NNNN.log for its tasks, the same name as the chunk
/// directory's.
std::string logPattern(const Campaign& c, int offset, const ArrayBlock& b) {
  std::string name = "chunk-%4a.log";
  if (offset > 0) {
    name =
        fmt::format("chunk-{:0{}d}%{}a.log", offset / b.size, std::max(1, 4 - b.digits), b.digits);
  }
  return (fs::path(c.dir) / "logs" / name).string();
}

/// DIR/arrays/offset-N, whose chunks/chunk-MMMM point to DIR/chunks/chunk-(N+MMMM): what
/// TRKAAS_CAMPAIGN names for an array with an offset (the scripts read
/// $TRKAAS_CAMPAIGN/chunks/chunk-$TASK/args, whose -o names the real chunk directory).
std::string arrayView(const Campaign& c, int offset, const std::vector<int>& chunks) {
  if (offset == 0) return c.dir;
  const fs::path view = fs::path(c.dir) / "arrays" / fmt::format("offset-{}", offset);
  fs::create_directories(view / "chunks");
  for (int k : chunks) {
    const fs::path link = view / "chunks" / fmt::format("chunk-{:04d}", k - offset);
    const fs::path target =
        fs::path("..") / ".." / ".." / "chunks" / fmt::format("chunk-{:04d}", k);
    std::error_code ec;
    if (fs::is_symlink(link, ec)) {
      if (fs::read_symlink(link, ec) == target) continue;
      fs::remove(link, ec);
    }
    fs::create_directory_symlink(target, link, ec);
    if (ec) throw Error("cannot link '" + link.string() + "': " + ec.message());
  }
  return view.string();
}

std::string submitScript(const Campaign& c) {
  return (fs::path(c.config.script).parent_path() / "submit.sh").string();
}

std::string submitJobId(const std::string& cmd) {
  logger().info("submitting: {}", cmd);
  int status = 0;
  std::string out = capture(cmd, status);
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  const std::string job = out.substr(0, out.find(';'));
  if (status != 0 || job.empty() || job.find_first_not_of("0123456789") != std::string::npos) {
    throw Error(fmt::format("submission failed (status {}): {}", status,
                            out.empty() ? std::string("no job id printed") : firstLine(out, 400)));
  }
  return job;
}

void recordSubmission(const Campaign& c, json line) {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  line["time"] = std::chrono::duration_cast<std::chrono::seconds>(now).count();
  std::ofstream(fs::path(c.dir) / "submissions.jsonl", std::ios::app) << line.dump() << "\n";
}

constexpr const char* kPreviousArray = "PREVIOUS";

}  // namespace

std::vector<ArrayJob> arrayJobs(const Campaign& c, const std::vector<int>& chunks,
                                const SubmitOptions& options, int maxArraySize) {
  if (c.config.script.empty()) {
    throw Error("campaign '" + c.dir + "' has no batch script: plan it with --script");
  }
  const ArrayBlock block = arrayBlock(maxArraySize);
  // Offset 0 while every chunk fits (the arrays of campaigns before offsets existed);
  // beyond, one array per block of chunks.
  const bool fits = !chunks.empty() && chunks.back() < maxArraySize;
  std::vector<ArrayJob> arrays;
  for (int k : chunks) {
    const int offset = fits ? 0 : k / block.size * block.size;
    if (arrays.empty() || arrays.back().offset != offset) arrays.push_back({offset, {}, "", ""});
    arrays.back().chunks.push_back(k);
  }
  std::string extra;
  for (const std::string& a : options.extraRunArgs) extra += (extra.empty() ? "" : " ") + a;
  for (std::size_t i = 0; i < arrays.size(); ++i) {
    ArrayJob& a = arrays[i];
    std::vector<int> tasks;
    for (int k : a.chunks) tasks.push_back(k - a.offset);
    std::string cmd = "env TRKAAS_CAMPAIGN=" + shellQuote(arrayView(c, a.offset, a.chunks));
    if (!extra.empty()) cmd += " TRKAAS_CAMPAIGN_EXTRA=" + shellQuote(extra);
    cmd += " " + shellQuote(submitScript(c));
    if (!c.config.profile.empty()) cmd += " --profile " + shellQuote(c.config.profile);
    std::string array = arraySpec(tasks);
    if (options.maxParallel > 0) array += "%" + std::to_string(options.maxParallel);
    cmd += " --array=" + array;
    cmd += " --time=" + slurmTime(c.config.timeLimitSeconds);
    if (c.config.timeMinSeconds > 0) cmd += " --time-min=" + slurmTime(c.config.timeMinSeconds);
    cmd += " --nodes=" + std::to_string(c.config.nodes);
    cmd += " --job-name=" + shellQuote(jobName(c));
    cmd += " --output=" + shellQuote(logPattern(c, a.offset, block));
    if (i > 0 && options.maxParallel > 0) {
      cmd += std::string(" --dependency=afterany:") + kPreviousArray;
    }
    for (const std::string& s : c.config.sbatchArgs) cmd += " " + shellQuote(s);
    cmd += " " + shellQuote(c.config.script);
    a.command = std::move(cmd);
  }
  return arrays;
}

std::vector<ArrayJob> submit(const Campaign& c, const std::vector<int>& chunksIn,
                             const SubmitOptions& options) {
  if (chunksIn.empty()) throw Error("nothing to submit");
  std::vector<int> chunks = chunksIn;
  std::sort(chunks.begin(), chunks.end());
  chunks.erase(std::unique(chunks.begin(), chunks.end()), chunks.end());
  const int maxArraySize = options.maxArraySize > 0 ? options.maxArraySize : slurmMaxArraySize();
  std::vector<ArrayJob> arrays = arrayJobs(c, chunks, options, maxArraySize);
  for (std::size_t i = 0; i < arrays.size(); ++i) {
    ArrayJob& a = arrays[i];
    if (i > 0) {
      const std::string placeholder = std::string("afterany:") + kPreviousArray;
      if (const auto p = a.command.find(placeholder); p != std::string::npos) {
        a.command.replace(p, placeholder.size(), "afterany:" + arrays[i - 1].job);
      }
    }
    a.job = submitJobId(a.command);
    recordSubmission(c, {{"job", a.job},
                         {"chunks", a.chunks},
                         {"offset", a.offset},
                         {"extra_run_args", options.extraRunArgs},
                         {"command", a.command}});
  }
  if (options.autoResubmit >= 0) {
    std::vector<std::string> jobs;
    for (const ArrayJob& a : arrays) jobs.push_back(a.job);
    jobs.insert(jobs.end(), options.followUpAlsoAfter.begin(), options.followUpAlsoAfter.end());
    const bool retry = std::find(options.extraRunArgs.begin(), options.extraRunArgs.end(),
                                 "--retry-failed") != options.extraRunArgs.end();
    submitFollowUp(c, jobs, options.autoResubmit, retry);
  }
  return arrays;
}

ResubmitPlan planResubmit(const std::vector<ChunkStatus>& status,
                          const std::map<int, QueuedTask>& queued, bool retryFailed,
                          int autoResubmit, int followUp) {
  ResubmitPlan plan;
  std::set<std::string> waitFor;
  for (const ChunkStatus& s : status) {
    const bool needs =
        s.missing > 0 || s.missingFiles > 0 || (retryFailed && (s.failed > 0 || s.fileErrors > 0));
    if (!needs) continue;
    if (const auto q = queued.find(s.index); q != queued.end()) {
      waitFor.insert(q->second.job);
    } else {
      plan.chunks.push_back(s.index);
    }
  }
  plan.waitFor.assign(waitFor.begin(), waitFor.end());
  const bool automatic = followUp >= 0;
  if (!plan.chunks.empty()) {
    if (automatic && followUp == 0) {
      plan.action = ResubmitPlan::kRoundsUsedUp;
    } else {
      plan.action = ResubmitPlan::kSubmit;
      plan.followUpRounds = automatic ? followUp - 1 : autoResubmit;
    }
  } else if (!plan.waitFor.empty() && (automatic || autoResubmit >= 0)) {
    // Requeued or still pending: check again once they end, without using up a round.
    plan.action = ResubmitPlan::kWait;
    plan.followUpRounds = automatic ? followUp : autoResubmit;
  } else if (automatic && plan.waitFor.empty()) {
    plan.action = ResubmitPlan::kFinished;
  }
  return plan;
}

std::string followUpCommand(const Campaign& c, const std::vector<std::string>& afterJobs,
                            int rounds, bool retryFailed) {
  if (c.config.script.empty()) {
    throw Error("campaign '" + c.dir + "' has no batch script: plan it with --script");
  }
  if (afterJobs.empty()) throw Error("automatic resubmission: no job to wait for");
  const fs::path script = fs::path(c.dir) / "resubmit.sbatch";
  writeText(script,
            "#!/usr/bin/env bash\n"
            "# Written by 'trkaas campaign submit --auto-resubmit': runs once the campaign's job\n"
            "# arrays have ended (--dependency=afterany) and resubmits its incomplete chunks.\n"
            "#   resubmit.sbatch CAMPAIGN_DIR ROUNDS_LEFT [--retry-failed]\n"
            "source \"${TRKAAS_ROOT:?}/jobs/lib/job.sh\" || exit 2\n"
            "trkaas_load_profile || exit 2\n"
            "trkaas_site_setup || exit 2\n"
            "# The jobs it submits must not inherit this job's shape (SLURM_NTASKS=1 would make\n"
            "# their srun start one task): only SLURM_CONF stays.\n"
            "for v in $(compgen -e SLURM_); do [[ $v == SLURM_CONF ]] || unset \"$v\"; done\n"
            "exec \"$TRKAAS_BIN\" campaign resubmit \"$1\" --follow-up \"$2\" \"${@:3}\"\n");
  fs::permissions(script, fs::perms::owner_exec | fs::perms::group_exec, fs::perm_options::add);
  std::string after;
  for (const std::string& j : afterJobs) after += ":" + j;
  std::string cmd = shellQuote(submitScript(c));
  if (!c.config.profile.empty()) cmd += " --profile " + shellQuote(c.config.profile);
  cmd += " --dependency=afterany" + after;
  cmd += " --job-name=" + shellQuote(jobName(c) + "-resubmit");
  cmd += " --output=" + shellQuote((fs::path(c.dir) / "logs" / "resubmit-%j.log").string());
  cmd += " --time=0:10:00 --nodes=1 --ntasks=1";
  for (const std::string& s : c.config.sbatchArgs) cmd += " " + shellQuote(s);
  for (const std::string& s : c.config.resubmitSbatchArgs) cmd += " " + shellQuote(s);
  cmd += " " + shellQuote(script.string()) + " " + shellQuote(c.dir) + " " + std::to_string(rounds);
  if (retryFailed) cmd += " --retry-failed";
  return cmd;
}

std::string submitFollowUp(const Campaign& c, const std::vector<std::string>& afterJobs, int rounds,
                           bool retryFailed) {
  const std::string cmd = followUpCommand(c, afterJobs, rounds, retryFailed);
  const std::string job = submitJobId(cmd);
  recordSubmission(
      c, {{"job", job}, {"resubmit_after", afterJobs}, {"rounds", rounds}, {"command", cmd}});
  return job;
}

std::map<int, QueuedTask> parseQueue(const std::string& out,
                                     const std::map<std::string, int>& offsetOfJob) {
  std::map<int, QueuedTask> queued;
  std::istringstream lines(out);
  for (std::string id, state; lines >> id >> state;) {
    const auto u = id.find('_');
    if (u == std::string::npos) continue;
    const auto job = offsetOfJob.find(id.substr(0, u));
    if (job == offsetOfJob.end()) continue;
    const std::string task = id.substr(u + 1);
    if (task.empty() || task.find_first_not_of("0123456789") != std::string::npos) continue;
    queued[job->second + std::stoi(task)] = {state, job->first};
  }
  return queued;
}

std::vector<QueuedTask> queuedResubmissions(const Campaign& c) {
  int status = 0;
  const std::string out = capture(
      "squeue -h -n " + shellQuote(jobName(c) + "-resubmit") + " -o '%i %T' 2>/dev/null", status);
  std::vector<QueuedTask> jobs;
  std::istringstream lines(out);
  for (std::string id, state; status == 0 && lines >> id >> state;) jobs.push_back({state, id});
  return jobs;
}

std::map<int, QueuedTask> queuedChunks(const Campaign& c, bool& known) {
  known = false;
  std::map<std::string, int> offsetOfJob;
  std::ifstream in(fs::path(c.dir) / "submissions.jsonl");
  for (std::string line; std::getline(in, line);) {
    const json j = json::parse(line, nullptr, false);
    if (j.is_object() && j.contains("job") && j.contains("chunks")) {
      offsetOfJob[j["job"].get<std::string>()] = j.value("offset", 0);
    }
  }
  if (offsetOfJob.empty()) {
    known = true;
    return {};
  }
  // By job name, not by id: squeue fails on ids the controller has already forgotten.
  // %i of an array task is JOB_TASK (-r: one line per task, also for pending ones).
  int status = 0;
  const std::string out =
      capture("squeue -h -r -n " + shellQuote(jobName(c)) + " -o '%i %T' 2>/dev/null", status);
  if (status != 0) return {};
  known = true;
  return parseQueue(out, offsetOfJob);
}

}  // namespace trkaas::campaign
