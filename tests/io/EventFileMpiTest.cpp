// Many MPI ranks reading different events of one event file at the same time, each with
// its own reader, as producer ranks do. Rank 0 writes the file; every rank then reads
// its share of the events (and all ranks read event 0 at once) and checks every hit
// against the event it was made from. Exit code != 0 on any mismatch, on every rank.
#include <mpi.h>

#include <cstdio>
#include <string>

#include "EventCompare.hpp"
#include "IoTestUtil.hpp"
#include "trkaas/io/EventFile.hpp"

using namespace trkaas;

namespace {
Event expected(std::size_t i) {
  return test::makeEvent(1000 + 3 * i, 500 + 97 * i, 11u + i, true, true, false);
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  const std::size_t numEvents = 12;
  const std::string path = test::tmpPath("mpi_read_np" + std::to_string(size) + ".h5");
  int failures = 0;
  // Rank 0 writes; its success is broadcast so that no rank waits on one that failed.
  int written = 0;
  if (rank == 0) {
    try {
      EventFileWriter writer(path);
      for (std::size_t i = 0; i < numEvents; ++i) writer.append(expected(i));
      writer.close();
      written = 1;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "rank 0: writing %s failed: %s\n", path.c_str(), e.what());
    }
  }
  MPI_Bcast(&written, 1, MPI_INT, 0, MPI_COMM_WORLD);
  if (written == 0) {
    MPI_Finalize();
    return 1;
  }
  try {
    EventFileReader reader(path);
    if (reader.numEvents() != numEvents) ++failures;
    if (!test::sameEvent(reader.read(0), expected(0))) ++failures;  // everyone at once
    int mine = 0;
    for (std::size_t i = static_cast<std::size_t>(rank); i < numEvents;
         i += static_cast<std::size_t>(size)) {
      if (!test::sameEvent(reader.read(i), expected(i))) {
        std::fprintf(stderr, "rank %d: event %zu differs\n", rank, i);
        ++failures;
      }
      ++mine;
    }
    int total = 0;
    MPI_Allreduce(&mine, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (total != static_cast<int>(numEvents)) ++failures;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rank %d: %s\n", rank, e.what());
    ++failures;
  }
  int all = 0;
  MPI_Allreduce(&failures, &all, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  if (rank == 0) std::printf("%d ranks read %zu events: %d failures\n", size, numEvents, all);
  MPI_Finalize();
  return all == 0 ? 0 : 1;
}
