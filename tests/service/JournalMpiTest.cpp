// The journals of a resume read by several ranks at once (each a share of the files,
// combined on rank 0) against the definition read by one process, record by record
// (foldJournalRecords). Rank 0 writes a job directory of random journals: runs of the older
// layout (everything in the directory) and runs in their own directories, events done twice,
// failed then done, done then failed, runs killed before their commit, a committed file
// that is gone, lines cut by a kill, empty journals. Exit code != 0 on any difference.
#include <mpi.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "ServiceInternal.hpp"
#include "trkaas/core/Error.hpp"
#include "trkaas/service/Journal.hpp"

using namespace trkaas;
namespace fs = std::filesystem;

namespace {

int g_failures = 0;

void check(bool ok, const std::string& what) {
  if (!ok) {
    std::fprintf(stderr, "FAILED: %s\n", what.c_str());
    ++g_failures;
  }
}

/// Six runs of random journals in `dir`: runs 1-2 in the older layout, 3-6 in run
/// directories; 3 input files of 40 events.
void writeJournals(const fs::path& dir) {
  std::mt19937 random(19);
  const auto chance = [&](double p) { return std::uniform_real_distribution<>(0, 1)(random) < p; };
  const std::vector<std::string> inputs = {"/in/a.h5", "/in/b b.h5", "/in/c.h5"};
  for (int run = 1; run <= 6; ++run) {
    const bool flat = run <= 2;
    const int producers = 1 + static_cast<int>(random() % 4);
    for (int p = 0; p < producers; ++p) {
      const std::string journal =
          flat ? fmt::format("journal-r{:03d}-p{:04d}.jsonl", run, p) : journalFileName(run, p);
      const std::string tracks =
          flat ? fmt::format("tracks-r{:03d}-p{:04d}.h5", run, p) : tracksFileName(run, p);
      {
        JournalWriter writer((dir / journal).string());
        const int records = static_cast<int>(random() % 30);
        for (int r = 0; r < records; ++r) {
          const EventKey key{inputs[random() % inputs.size()],
                             chance(0.03) ? -1 : static_cast<std::int64_t>(random() % 40)};
          if (chance(0.2)) {
            writer.error(key, 1000 + key.second, fmt::format("reason {}", random() % 3));
          } else {
            writer.done(key, 1000 + key.second, tracks);
          }
        }
        if (!chance(0.25)) writer.commit(tracks, records);  // else killed before it
      }
      if (!chance(0.1)) std::ofstream(dir / tracks) << "x";  // else the file is gone
      if (p == 0 || chance(0.15))
        std::ofstream(dir / journal, std::ios::app) << "{\"file\": \"/in/a";
    }
  }
  // A committed file without events, and an empty journal of a run killed at its start.
  {
    JournalWriter writer((dir / journalFileName(7, 0)).string());
    writer.commit(tracksFileName(7, 0), 0);
  }
  std::ofstream(dir / tracksFileName(7, 0)) << "x";
  JournalWriter((dir / journalFileName(8, 3)).string());
}

void compare(const JournalState& got, const JournalState& want, const std::string& what) {
  check(got.done == want.done, what + ": done events");
  check(got.failed == want.failed, what + ": failed events and reasons");
  check(got.committedFiles == want.committedFiles, what + ": committed files");
  check(got.uncommittedFiles == want.uncommittedFiles, what + ": uncommitted files");
  check(got.lastRun == want.lastRun, what + ": last run");
  check(got.ignoredLines == want.ignoredLines, what + ": ignored lines");
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm comm = MPI_COMM_WORLD;
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  const fs::path dir = fs::path(TRKAAS_TEST_TMP) / fmt::format("journals_np{}", size);
  std::vector<std::string> journals;
  int lastRun = 0;
  if (rank == 0) {
    fs::remove_all(dir);
    fs::create_directories(dir);
    writeJournals(dir);
    journals = listJournals(dir.string(), &lastRun);
  }
  // What the service does: rank 0's list to all, a share each, combined on rank 0.
  service::bcastJournals(comm, journals, lastRun);
  check(journals.size() > 10 && lastRun == 8, "the journal list reached every rank");
  const JournalState parallel = service::gatherJournals(
      comm, service::readJournalShare(journals, rank, size), dir.string(), lastRun);
  if (rank == 0) {
    int run = 0;
    const std::vector<JournalRecord> records = readJournalRecords(dir.string(), &run);
    const JournalState serial = foldJournalRecords(dir.string(), records, run);
    // The directory has every case the fold distinguishes.
    check(!serial.done.empty() && !serial.failed.empty() && !serial.uncommittedFiles.empty() &&
              serial.ignoredLines > 0 && serial.committedFiles.size() > 3,
          "the random journals cover done, failed, uncommitted and cut lines");
    compare(parallel, serial, fmt::format("{} rank(s)", size));
    compare(loadJournals(dir.string()), serial, "loadJournals");
    // Bytes cut short are refused, not read past their end.
    JournalDigest all;
    for (std::size_t k = 0; k < journals.size(); ++k) all.read(journals[k], static_cast<int>(k));
    std::vector<char> bytes = all.encode();
    compare(JournalDigest::decode(bytes).state(dir.string(), run), serial, "encode, decode");
    bytes.resize(bytes.size() / 2);
    bool refused = false;
    try {
      JournalDigest::decode(bytes);
    } catch (const Error&) {
      refused = true;
    }
    check(refused, "a digest cut in half is refused");
    std::printf(
        "%d rank(s): %zu journals, %zu done, %zu failed, %zu committed, %zu uncommitted, %lld "
        "cut lines\n",
        size, journals.size(), serial.done.size(), serial.failed.size(),
        serial.committedFiles.size(), serial.uncommittedFiles.size(),
        static_cast<long long>(serial.ignoredLines));
  } else {
    check(parallel.done.empty() && parallel.failed.empty(), "only rank 0 gets the state");
  }
  int failures = g_failures;
  MPI_Allreduce(MPI_IN_PLACE, &failures, 1, MPI_INT, MPI_SUM, comm);
  MPI_Finalize();
  return failures == 0 ? 0 : 1;
}
