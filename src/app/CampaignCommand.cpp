// `trkaas report` (CSV rows of service reports) and `trkaas campaign` (plan, submit,
// status, verify, resubmit, report): reprocessing many files as chunked Slurm jobs.
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "Commands.hpp"
#include "trkaas/campaign/Campaign.hpp"
#include "trkaas/campaign/ReportTable.hpp"
#include "trkaas/core/Error.hpp"
#include "trkaas/core/Logger.hpp"
#include "trkaas/core/TextFile.hpp"

namespace trkaas::app {

namespace fs = std::filesystem;
using namespace trkaas::campaign;

namespace {

/// Slurm's time formats: M, M:S, H:M:S, D-H, D-H:M, D-H:M:S.
double parseSlurmTime(const std::string& text) {
  const auto bad = [&] {
    return Error("time limit '" + text + "': use Slurm's format (minutes, HH:MM:SS or D-HH:MM:SS)");
  };
  std::string rest = text;
  long days = 0;
  if (const auto dash = rest.find('-'); dash != std::string::npos) {
    try {
      days = std::stol(rest.substr(0, dash));
    } catch (const std::exception&) {
      throw bad();
    }
    rest = rest.substr(dash + 1);
  }
  std::vector<long> parts;
  std::size_t pos = 0;
  while (pos <= rest.size()) {
    const auto colon = rest.find(':', pos);
    const std::string p =
        rest.substr(pos, colon == std::string::npos ? std::string::npos : colon - pos);
    if (p.empty() || p.find_first_not_of("0123456789") != std::string::npos) throw bad();
    parts.push_back(std::stol(p));
    if (colon == std::string::npos) break;
    pos = colon + 1;
  }
  if (parts.empty() || parts.size() > 3) throw bad();
  long seconds = 0;
  if (text.find('-') != std::string::npos) {  // D-H[:M[:S]]
    seconds = parts[0] * 3600 + (parts.size() > 1 ? parts[1] * 60 : 0) +
              (parts.size() > 2 ? parts[2] : 0);
  } else if (parts.size() == 1) {
    seconds = parts[0] * 60;
  } else if (parts.size() == 2) {
    seconds = parts[0] * 60 + parts[1];
  } else {
    seconds = parts[0] * 3600 + parts[1] * 60 + parts[2];
  }
  return double(days * 86400 + seconds);
}

/// tools/plots/trkaas_plots.py of this repository: next to the batch script's jobs/, or
/// next to the binary's build/.
std::string plotsTool(const Campaign& c) {
  std::vector<fs::path> roots;
  if (!c.config.script.empty())
    roots.push_back(fs::path(c.config.script).parent_path().parent_path());
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) roots.push_back(exe.parent_path().parent_path());
  for (const fs::path& r : roots) {
    const fs::path tool = r / "tools" / "plots" / "trkaas_plots.py";
    if (fs::exists(tool)) return tool.string();
  }
  return "";
}

/// The Python that runs `tool` (tools/plots/trkaas_plots.py): tools/python beside it, which
/// chooses the project's Python ($TRKAAS_PYTHON, else the venv, else python3).
std::string plotsPython(const std::string& tool) {
  const fs::path chooser = fs::path(tool).parent_path().parent_path() / "python";
  return fs::exists(chooser) ? chooser.string() : std::string("python3");
}

void printStatus(const Campaign& c, const std::vector<ChunkStatus>& status, bool showReasons) {
  bool known = false;
  const std::map<int, QueuedTask> queued = queuedChunks(c, known);
  std::int64_t planned = 0, done = 0, failed = 0, missing = 0, dup = 0, fileErrors = 0,
               missingFiles = 0;
  int complete = 0;
  std::map<std::string, std::int64_t> reasons;
  std::cout << fmt::format("campaign {}: {} input file(s), {} chunk(s) of <= {} event(s)\n", c.dir,
                           c.inputs.size(), c.chunks.size(), c.eventsPerChunk);
  std::cout << fmt::format("{:>6} {:>6} {:>8} {:>8} {:>7} {:>8} {:>5}  {}\n", "chunk", "files",
                           "events", "done", "failed", "missing", "runs", "state");
  for (const ChunkStatus& s : status) {
    std::string state = s.complete() ? "complete" : (s.runs == 0 ? "not run" : "incomplete");
    if (const auto q = queued.find(s.index); q != queued.end())
      state += " (slurm: " + q->second.state + ")";
    if (s.duplicates > 0) state += fmt::format(", {} DUPLICATED", s.duplicates);
    if (s.fileErrors > 0) state += fmt::format(", {} unreadable file(s)", s.fileErrors);
    if (s.missingFiles > 0) {
      state += fmt::format(", {} unreadable file(s) without an error record", s.missingFiles);
    }
    std::cout << fmt::format("{:>6} {:>6} {:>8} {:>8} {:>7} {:>8} {:>5}  {}\n",
                             fmt::format("{:04d}", s.index), c.chunks[s.index].inputs.size(),
                             s.planned, s.done, s.failed, s.missing, s.runs, state);
    planned += s.planned;
    done += s.done;
    failed += s.failed;
    missing += s.missing;
    dup += s.duplicates;
    fileErrors += s.fileErrors;
    missingFiles += s.missingFiles;
    complete += s.complete() ? 1 : 0;
    for (const auto& [r, n] : s.reasons) reasons[r] += n;
  }
  std::cout << fmt::format(
      "total: {} event(s): {} done, {} failed, {} missing{}{}{}; {} of {} chunk(s) complete\n",
      planned, done, failed, missing,
      missingFiles > 0 ? fmt::format(", {} unreadable file(s) not yet recorded", missingFiles) : "",
      fileErrors > 0 ? fmt::format(", {} unreadable file(s)", fileErrors) : "",
      dup > 0 ? fmt::format(", {} DUPLICATED", dup) : "", complete, status.size());
  if (!known) std::cout << "(squeue not available: Slurm states not shown)\n";
  for (const QueuedTask& job : queuedResubmissions(c)) {
    std::cout << fmt::format("automatic resubmission: job {} {} (logs/resubmit-{}.log)\n", job.job,
                             job.state, job.job);
  }
  if (!reasons.empty()) {
    std::vector<std::pair<std::int64_t, std::string>> byCount;
    for (const auto& [r, n] : reasons) byCount.emplace_back(n, r);
    std::sort(byCount.rbegin(), byCount.rend());
    std::cout << "failure reasons:\n";
    const std::size_t shown =
        showReasons ? byCount.size() : std::min<std::size_t>(5, byCount.size());
    for (std::size_t i = 0; i < shown; ++i) {
      std::cout << fmt::format("  {:>6} x {}\n", byCount[i].first, byCount[i].second);
    }
    if (shown < byCount.size())
      std::cout << fmt::format("  ... {} more (--reasons)\n", byCount.size() - shown);
  }
}

void printSubmitted(const std::vector<ArrayJob>& arrays) {
  for (const ArrayJob& a : arrays) {
    std::cout << "submitted job array " << a.job << " for chunk(s) " << arraySpec(a.chunks)
              << (a.offset > 0 ? fmt::format(" (array indices + {})", a.offset) : "") << "\n";
  }
}

/// What `submit --dry-run` and `resubmit --dry-run` print: the arrays' commands and, with
/// automatic resubmission, the job after them.
void printDryRun(const Campaign& c, const std::vector<int>& chunks, const SubmitOptions& o) {
  const int maxArraySize = o.maxArraySize > 0 ? o.maxArraySize : slurmMaxArraySize();
  std::vector<std::string> jobs;
  for (const ArrayJob& a : arrayJobs(c, chunks, o, maxArraySize)) {
    std::cout << a.command << "\n";
    jobs.push_back(fmt::format("ARRAY{}", jobs.size() + 1));
  }
  jobs.insert(jobs.end(), o.followUpAlsoAfter.begin(), o.followUpAlsoAfter.end());
  const bool retry = std::find(o.extraRunArgs.begin(), o.extraRunArgs.end(), "--retry-failed") !=
                     o.extraRunArgs.end();
  if (o.autoResubmit >= 0) std::cout << followUpCommand(c, jobs, o.autoResubmit, retry) << "\n";
}

constexpr const char* kExitCodesHelp =
    "Exit codes (as trkaas run's: 0, 1, 3): 0 every event has exactly one tracks record; 4 "
    "every event accounted for exactly once, some as error records (or unreadable files); 3 "
    "events without any record yet (resubmit); 1 duplicated events or tracks files that "
    "disagree with their journals (or an error).";

/// A report's default label: the job directory's name (its report.json), with the run's
/// directory (JOB/run-RRR) or the older per-run file's name (JOB/report-rRRR).
std::string reportLabel(const fs::path& report) {
  const std::string parent = report.parent_path().filename().string();
  if (report.filename() != "report.json") return parent + "/" + report.stem().string();
  if (parent.rfind("run-", 0) == 0) {
    return report.parent_path().parent_path().filename().string() + "/" + parent;
  }
  return parent;
}

}  // namespace

void addReportCommand(CLI::App& app) {
  struct Options {
    std::vector<std::string> reports;
    std::string csv;
    std::vector<std::string> labels;
    bool append = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand(
      "report",
      "Turn service reports (a job directory's report.json: its latest run; a run's "
      "DIR/run-RRR/report.json, or the older DIR/report-rRRR.json) into CSV "
      "rows: one row per run with throughput, latency, server busy, producer wait and cost, "
      "stage times (the ratio scan's and campaigns' table; plot it with "
      "tools/plots/trkaas_plots.py)");
  cmd->add_option("reports", o->reports,
                  "report files, job directories or run directories (their report.json)")
      ->required();
  cmd->add_option("--csv", o->csv, "write the rows to this file (default: standard output)");
  cmd->add_flag("--append", o->append,
                "append to the CSV file (the header is written only when the file is new)");
  cmd->add_option("--label", o->labels,
                  "a label per report (default: the run directory's name and run number)");
  cmd->callback([o] {
    if (!o->labels.empty() && o->labels.size() != o->reports.size()) {
      throw Error(fmt::format("{} label(s) for {} report(s): give one per report or none",
                              o->labels.size(), o->reports.size()));
    }
    std::string text;
    for (std::size_t i = 0; i < o->reports.size(); ++i) {
      fs::path p = o->reports[i];
      if (fs::is_directory(p)) p /= "report.json";
      const std::string label = o->labels.empty() ? reportLabel(p) : o->labels[i];
      text += csvLine(reportRow(p.string(), label)) + "\n";
    }
    const bool header =
        o->csv.empty() || !o->append || !fs::exists(o->csv) || fs::file_size(o->csv) == 0;
    const std::string out = (header ? csvLine(reportColumns()) + "\n" : std::string()) + text;
    if (o->csv.empty()) {
      std::cout << out;
      return;
    }
    std::ofstream f(o->csv, o->append ? std::ios::app : std::ios::trunc);
    f << out;
    if (!f.flush()) throw Error("cannot write '" + o->csv + "'");
  });
}

void addCampaignCommand(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand(
      "campaign",
      "Reprocess many input files as chunked Slurm jobs (a job array) without losing or "
      "duplicating an event: plan, submit, status, verify, resubmit, report. The chunk "
      "directories' journals are the truth; see jobs/README.md, \"Campaigns\". " +
          std::string(kExitCodesHelp) + " (verify, and the last automatic resubmission job)");
  cmd->require_subcommand(1);

  // plan
  auto p = std::make_shared<PlanConfig>();
  auto inputList = std::make_shared<std::string>();
  auto timeLimit = std::make_shared<std::string>("2:00:00");
  auto submitNow = std::make_shared<bool>(false);
  auto maxParallel = std::make_shared<int>(0);
  CLI::App* plan = cmd->add_subcommand(
      "plan",
      "Read the inputs' event counts and cut chunks of whole files sized to the time limit "
      "(from a calibration report or a rate); write DIR/campaign.json and one directory per "
      "chunk.");
  plan->add_option("dir", p->dir, "campaign directory (new)")->required();
  plan->add_option("-i,--input", p->inputs, "input event files");
  plan->add_option("--input-list", *inputList, "a file listing input files, one per line");
  plan->add_option("-c,--config", p->pipelineConfig, "pipeline YAML (trkaas run -c)")->required();
  plan->add_option("--calibration", p->calibrationReport,
                   "report.json of a short run on the same kind of node: its events/s per node "
                   "sizes the chunks");
  plan->add_option("--rate", p->ratePerNode, "events/s per node, instead of --calibration");
  plan->add_option("--events-per-chunk", p->eventsPerChunk,
                   "fixed chunk size in events instead of the time budget");
  plan->add_option("--time-limit,-t", *timeLimit, "time limit of each chunk job (Slurm format)")
      ->capture_default_str();
  auto timeMin = std::make_shared<std::string>();
  plan->add_option("--time-min", *timeMin,
                   "minimum time limit (sbatch --time-min, for the preempt or backfill QOS): "
                   "chunks are sized to it, a job that gets more time finishes early");
  plan->add_option("--fill", p->fill,
                   "chunks take at most this fraction of the (minimum) time limit, so that a "
                   "slower node still finishes its chunk")
      ->capture_default_str();
  plan->add_option("--margin", p->marginSeconds,
                   "seconds of each job kept for start-up and the clean stop (at least the "
                   "120 s of --signal=B:USR1@120)")
      ->capture_default_str();
  plan->add_option("-N,--nodes", p->nodes, "nodes per chunk job")->capture_default_str();
  plan->add_option("--script", p->script,
                   "batch script of each chunk (jobs/perlmutter-gpu.sbatch or -cpu.sbatch)");
  plan->add_option("--profile", p->profile, "site profile (jobs/profiles/NAME.sh)");
  plan->add_option("--sbatch", p->sbatchArgs,
                   "extra sbatch option, e.g. --sbatch=--account=m1234 (repeatable)");
  plan->add_option("--resubmit-sbatch", p->resubmitSbatchArgs,
                   "extra sbatch option of the automatic resubmission job, after --sbatch ones "
                   "(e.g. --resubmit-sbatch=--qos=shared --resubmit-sbatch=--constraint=cpu)");
  plan->add_flag("--submit", *submitNow, "submit every chunk at once as a job array");
  auto autoRounds = std::make_shared<int>(0);
  plan->add_option("--auto-resubmit", *autoRounds,
                   "with --submit: after the arrays, a job resubmits incomplete chunks, at most "
                   "N times, then verifies (see submit --help)");
  plan->add_option("--max-parallel", *maxParallel,
                   "with --submit: at most this many chunks run at once (array %N)");
  auto runArgs = std::make_shared<std::string>();
  plan->add_option("--run-args", *runArgs,
                   "further 'trkaas run' arguments for every chunk, e.g. \"-C 4 -W 2\"");
  plan->callback([=] {
    if (!inputList->empty()) {
      for (std::string& f : readListFile(*inputList)) p->inputs.push_back(std::move(f));
    }
    std::istringstream words(*runArgs);
    for (std::string w; words >> w;) p->runArgs.push_back(w);
    p->timeLimitSeconds = parseSlurmTime(*timeLimit);
    if (!timeMin->empty()) p->timeMinSeconds = parseSlurmTime(*timeMin);
    if (*submitNow && p->script.empty()) throw Error("--submit needs --script");
    if (*autoRounds > 0 && !*submitNow) {
      throw Error("--auto-resubmit needs --submit (or give it to 'trkaas campaign submit')");
    }
    const Campaign c = planCampaign(*p);
    std::int64_t bad = 0;
    for (const InputInfo& in : c.inputs) bad += in.events < 0 ? 1 : 0;
    std::cout << fmt::format(
        "planned {}: {} input file(s) ({} unreadable), {} event(s) in {} chunk(s) of <= {} "
        "event(s) ({}; {} node(s) per job, time limit {})\n",
        c.dir, c.inputs.size(), bad, c.totalEvents(), c.chunks.size(), c.eventsPerChunk,
        p->eventsPerChunk > 0 ? std::string("fixed size")
                              : fmt::format("{:.3g} events/s per node x {:.0f} s",
                                            c.config.ratePerNode, chunkBudgetSeconds(c.config)),
        c.config.nodes, *timeLimit + (timeMin->empty() ? "" : ", at least " + *timeMin));
    std::vector<int> all;
    for (const Chunk& ch : c.chunks) all.push_back(ch.index);
    if (*submitNow) {
      SubmitOptions o;
      o.maxParallel = *maxParallel;
      o.autoResubmit = *autoRounds > 0 ? *autoRounds : -1;
      printSubmitted(submit(c, all, o));
    } else if (!c.config.script.empty()) {
      std::cout << "submit with: trkaas campaign submit " << shellQuote(c.dir) << "\n";
    }
  });

  // submit
  auto dir = std::make_shared<std::string>();
  auto chunks = std::make_shared<std::vector<int>>();
  auto dryRun = std::make_shared<bool>(false);
  auto maxArraySize = std::make_shared<int>(0);
  auto threads = std::make_shared<int>(0);
  CLI::App* sub = cmd->add_subcommand(
      "submit",
      "Submit chunks (default: all) as Slurm job arrays: one array while the chunk numbers "
      "fit in Slurm's MaxArraySize, else one per block of chunks (array index + offset)");
  sub->add_option("dir", *dir, "campaign directory")->required();
  sub->add_option("--chunks", *chunks, "only these chunk numbers");
  sub->add_option("--max-parallel", *maxParallel,
                  "at most this many chunks run at once (several arrays: one after the other)");
  sub->add_option("--auto-resubmit", *autoRounds,
                  "after the arrays (--dependency=afterany), a job that resubmits the chunks "
                  "still incomplete (a node lost, a job killed), at most N times, each followed "
                  "by such a job; the last one verifies and exits with verify's code "
                  "(logs/resubmit-JOB.log)");
  sub->add_option("--max-array-size", *maxArraySize,
                  "Slurm's MaxArraySize (default: from scontrol show config, else 1001)");
  sub->add_flag("--dry-run", *dryRun, "print the sbatch commands instead of running them");
  sub->callback([=] {
    const Campaign c = loadCampaign(*dir);
    std::vector<int> list = *chunks;
    if (list.empty()) {
      for (const Chunk& ch : c.chunks) list.push_back(ch.index);
    }
    std::sort(list.begin(), list.end());
    list.erase(std::unique(list.begin(), list.end()), list.end());
    for (int k : list) {
      if (k < 0 || k >= static_cast<int>(c.chunks.size())) {
        throw Error(fmt::format("no chunk {} (the campaign has {})", k, c.chunks.size()));
      }
    }
    SubmitOptions o;
    o.maxParallel = *maxParallel;
    o.maxArraySize = *maxArraySize;
    o.autoResubmit = *autoRounds > 0 ? *autoRounds : -1;
    if (*dryRun) {
      printDryRun(c, list, o);
      return;
    }
    printSubmitted(submit(c, list, o));
  });

  // status / verify
  auto reasons = std::make_shared<bool>(false);
  CLI::App* status = cmd->add_subcommand(
      "status", "Events done, failed (with reasons) and missing per chunk, from the journals");
  status->add_option("dir", *dir, "campaign directory")->required();
  status->add_flag("--reasons", *reasons, "list every failure reason, not only the top 5");
  status->add_option("-j,--threads", *threads,
                     "chunks read at once (default: twice the cores, 4 to 32)");
  status->callback([=] {
    const Campaign c = loadCampaign(*dir);
    printStatus(c, campaignStatus(c, false, *threads), *reasons);
  });
  CLI::App* verify = cmd->add_subcommand(
      "verify",
      std::string("Check that every input event has exactly one tracks record or one error "
                  "record (opens every committed tracks file). ") +
          kExitCodesHelp);
  verify->add_option("dir", *dir, "campaign directory")->required();
  verify->add_option("-j,--threads", *threads,
                     "chunks read at once (default: twice the cores, 4 to 32)");
  verify->callback([=] {
    const Campaign c = loadCampaign(*dir);
    const std::vector<ChunkStatus> st = campaignStatus(c, true, *threads);
    printStatus(c, st, false);
    std::int64_t planned = 0, done = 0, failed = 0, missing = 0, dup = 0, fileErrors = 0;
    int problems = 0;
    for (const ChunkStatus& s : st) {
      planned += s.planned;
      done += s.done;
      failed += s.failed;
      missing += s.missing + s.missingFiles;
      dup += s.duplicates;
      fileErrors += s.fileErrors;
      for (const std::string& what : s.problems) {
        if (++problems <= 20) std::cout << fmt::format("chunk {:04d}: {}\n", s.index, what);
      }
    }
    if (problems > 20) std::cout << fmt::format("... {} problem(s) in all\n", problems);
    const int code = campaignExitCode(st);
    if (code == kCampaignComplete || code == kCampaignDoneWithFailures) {
      std::cout << fmt::format(
          "verify: OK: all {} event(s) accounted for exactly once: {} with one tracks record, "
          "{} with an error record{}\n",
          planned, done, failed,
          fileErrors > 0
              ? fmt::format("; {} unreadable file(s) with their error record", fileErrors)
              : "");
      if (code == kCampaignDoneWithFailures) {
        std::cout << fmt::format(
            "verify: done with failures (exit code {}): 'trkaas campaign resubmit {} "
            "--retry-failed' redoes them\n",
            code, shellQuote(c.dir));
        throw ExitCode{code};
      }
      return;
    }
    std::cout << fmt::format(
        "verify: {}: {} event(s) (or unreadable files) missing, {} duplicated, {} other "
        "problem(s) (exit code {}{})\n",
        code == kCampaignWorkLeft ? "INCOMPLETE" : "FAILED", missing, dup, problems, code,
        missing > 0 ? "; 'trkaas campaign resubmit " + shellQuote(c.dir) + "' for the missing"
                    : std::string());
    throw ExitCode{code};
  });

  // resubmit
  auto retryFailed = std::make_shared<bool>(false);
  auto followUp = std::make_shared<int>(-1);
  CLI::App* resub = cmd->add_subcommand(
      "resubmit",
      "Submit again only the chunks with missing events (or failed ones, with "
      "--retry-failed); chunks still queued or running are left alone. The rerun of a chunk "
      "resumes: it does only what its journals lack.");
  resub->add_option("dir", *dir, "campaign directory")->required();
  resub->add_flag("--retry-failed", *retryFailed, "also redo events with error records");
  resub->add_option("--max-parallel", *maxParallel, "at most this many chunks run at once");
  resub->add_option("--auto-resubmit", *autoRounds,
                    "then resubmit automatically, at most N more times (see submit --help)");
  resub->add_option("--max-array-size", *maxArraySize,
                    "Slurm's MaxArraySize (default: from scontrol show config, else 1001)");
  resub->add_option("--follow-up", *followUp,
                    std::string("run as the automatic resubmission job with this many rounds "
                                "left (DIR/resubmit.sbatch): resubmits and schedules the next "
                                "such job; once nothing is left to run, verifies. ") +
                        kExitCodesHelp);
  resub->add_option("-j,--threads", *threads, "chunks read at once");
  resub->add_flag("--dry-run", *dryRun, "print what would be submitted");
  resub->callback([=] {
    const Campaign c = loadCampaign(*dir);
    bool known = false;
    const std::map<int, QueuedTask> queued = queuedChunks(c, known);
    if (!known) {
      throw Error(
          "cannot tell which chunks are still queued (squeue failed): resubmitting could run a "
          "chunk twice at once; check with squeue and use 'trkaas campaign submit --chunks'");
    }
    const std::vector<ChunkStatus> status = campaignStatus(c, false, *threads);
    const ResubmitPlan plan =
        planResubmit(status, queued, *retryFailed, *autoRounds > 0 ? *autoRounds : -1, *followUp);
    for (const ChunkStatus& s : status) {
      if (const auto q = queued.find(s.index);
          q != queued.end() &&
          std::count(plan.waitFor.begin(), plan.waitFor.end(), q->second.job)) {
        std::cout << fmt::format("chunk {:04d}: {} missing, but still {} in Slurm: left alone\n",
                                 s.index, s.missing, q->second.state);
      } else if (std::count(plan.chunks.begin(), plan.chunks.end(), s.index)) {
        std::cout << fmt::format("chunk {:04d}: {} missing, {} failed: resubmitting\n", s.index,
                                 s.missing, s.failed);
      }
    }
    switch (plan.action) {
      case ResubmitPlan::kNothing:
        std::cout << "nothing to resubmit\n";
        return;
      case ResubmitPlan::kRoundsUsedUp:
        std::cout << fmt::format(
            "automatic resubmission: no rounds left; {} chunk(s) incomplete: resubmit by hand "
            "(exit code {})\n",
            plan.chunks.size(), kCampaignWorkLeft);
        throw ExitCode{kCampaignWorkLeft};
      case ResubmitPlan::kWait:
        if (*dryRun) {
          std::cout << followUpCommand(c, plan.waitFor, plan.followUpRounds, *retryFailed) << "\n";
        } else {
          std::cout << "automatic resubmission: job "
                    << submitFollowUp(c, plan.waitFor, plan.followUpRounds, *retryFailed)
                    << " runs after job(s) " << fmt::format("{}", fmt::join(plan.waitFor, ","))
                    << "\n";
        }
        return;
      case ResubmitPlan::kFinished: {
        std::cout << "nothing to resubmit\n";
        const int code = campaignExitCode(campaignStatus(c, true, *threads));
        std::cout << fmt::format("automatic resubmission: campaign ended with exit code {} ({})\n",
                                 code,
                                 code == kCampaignComplete           ? "complete"
                                 : code == kCampaignDoneWithFailures ? "done with failed events"
                                 : code == kCampaignWorkLeft         ? "events left"
                                                                     : "verify found problems");
        if (code != kCampaignComplete) throw ExitCode{code};
        return;
      }
      case ResubmitPlan::kSubmit:
        break;
    }
    SubmitOptions o;
    o.extraRunArgs =
        *retryFailed ? std::vector<std::string>{"--retry-failed"} : std::vector<std::string>{};
    o.maxParallel = *maxParallel;
    o.maxArraySize = *maxArraySize;
    o.autoResubmit = plan.followUpRounds;
    o.followUpAlsoAfter = plan.waitFor;
    if (*dryRun) {
      printDryRun(c, plan.chunks, o);
      return;
    }
    printSubmitted(submit(c, plan.chunks, o));
  });

  // report
  auto noPlots = std::make_shared<bool>(false);
  CLI::App* report = cmd->add_subcommand(
      "report",
      "Merge the reports of every run of every chunk: DIR/report.json (totals), DIR/runs.csv "
      "(one row per run) and plots in DIR/plots (needs a Python with matplotlib: "
      "$TRKAAS_PYTHON, else the project's .venv made by tools/setup.sh)");
  report->add_option("dir", *dir, "campaign directory")->required();
  report->add_flag("--no-plots", *noPlots, "only the JSON and CSV");
  report->callback([=] {
    const Campaign c = loadCampaign(*dir);
    std::cout << mergeReports(c) << "\n";
    std::cout << "wrote " << (fs::path(c.dir) / "report.json").string() << " and "
              << (fs::path(c.dir) / "runs.csv").string() << "\n";
    if (*noPlots) return;
    const std::string tool = plotsTool(c);
    if (tool.empty()) {
      logger().warn("plots skipped: tools/plots/trkaas_plots.py not found beside the binary");
      return;
    }
    const std::string command = shellQuote(plotsPython(tool)) + " " + shellQuote(tool) +
                                " campaign " + shellQuote((fs::path(c.dir) / "runs.csv").string()) +
                                " -o " + shellQuote((fs::path(c.dir) / "plots").string());
    std::cout.flush();
    if (std::system(command.c_str()) != 0) {
      logger().warn("plots failed (is matplotlib installed?): {}", command);
    }
  });
}

}  // namespace trkaas::app
