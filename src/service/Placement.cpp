// Where the ranks run: nodes, local ranks, cores and the GPUs each rank sees.
#include <sched.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "ServiceInternal.hpp"

namespace trkaas::service {

namespace {

namespace fs = std::filesystem;

int nodeCores() {
  if (const char* v = std::getenv("SLURM_CPUS_ON_NODE")) {
    const int n = std::atoi(v);
    if (n > 0) return n;
  }
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

}  // namespace

/// The GPUs this rank sees, as ids: CUDA_VISIBLE_DEVICES when set (Slurm sets it per
/// task with --gpus-per-task), else the node's /dev/nvidiaN devices.
std::vector<std::string> visibleGpus() {
  std::vector<std::string> ids;
  if (const char* v = std::getenv("CUDA_VISIBLE_DEVICES")) {
    const std::string s = v;
    if (s.empty() || s == "NoDevFiles") return ids;
    std::size_t from = 0;
    while (from <= s.size()) {
      const std::size_t comma = std::min(s.find(',', from), s.size());
      if (comma > from) ids.push_back(s.substr(from, comma - from));
      from = comma + 1;
    }
    return ids;
  }
  for (int n = 0; n < 64 && fs::exists("/dev/nvidia" + std::to_string(n)); ++n) {
    ids.push_back(std::to_string(n));
  }
  return ids;
}

/// This process's CUDA ordinal of the node's GPU `device` (an index into the node's GPU
/// ids), or -1 with the reason when this rank does not see that GPU.
int cudaOrdinal(const RankPlace& place, int device, std::string& why) {
  if (device < 0 || device >= static_cast<int>(place.gpuIds.size())) {
    why = "no GPU";
    return -1;
  }
  const std::string& id = place.gpuIds[static_cast<std::size_t>(device)];
  const std::vector<std::string> mine = visibleGpus();
  const auto it = std::find(mine.begin(), mine.end(), id);
  if (it == mine.end()) {
    const char* cvd = std::getenv("CUDA_VISIBLE_DEVICES");
    why = "GPU " + id + " of the node is not visible to this rank (CUDA_VISIBLE_DEVICES=" +
          (cvd != nullptr ? std::string(cvd) : std::string("unset")) + ")";
    return -1;
  }
  return static_cast<int>(it - mine.begin());
}

/// Cores this process may run on (its affinity mask: mpirun or srun may bind it).
int ownCores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return nodeCores();
  return std::max(1, CPU_COUNT(&set));
}

/// Where every rank runs: node index (by lowest world rank), local rank and size.
std::vector<RankPlace> gatherPlaces(MPI_Comm comm) {
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm node;
  MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node);
  int local = 0, localSize = 1;
  MPI_Comm_rank(node, &local);
  MPI_Comm_size(node, &localSize);
  MPI_Comm leaders;
  MPI_Comm_split(comm, local == 0 ? 0 : MPI_UNDEFINED, rank, &leaders);
  int nodeIndex = 0;
  if (leaders != MPI_COMM_NULL) {
    MPI_Comm_rank(leaders, &nodeIndex);
    MPI_Comm_free(&leaders);
  }
  MPI_Bcast(&nodeIndex, 1, MPI_INT, 0, node);
  MPI_Comm_free(&node);
  char host[MPI_MAX_PROCESSOR_NAME] = {};
  int len = 0;
  MPI_Get_processor_name(host, &len);
  struct Packed {
    int node, local, size, cores;
    char host[64];
    char gpus[192];  // comma-separated GPU ids this rank sees
  } mine{nodeIndex, local, localSize, nodeCores(), {}, {}};
  std::snprintf(mine.host, sizeof(mine.host), "%s", host);
  std::string ids;
  for (const std::string& id : visibleGpus()) ids += id + ",";
  std::snprintf(mine.gpus, sizeof(mine.gpus), "%s", ids.c_str());
  int size = 1;
  MPI_Comm_size(comm, &size);
  std::vector<Packed> all(static_cast<std::size_t>(size));
  MPI_Allgather(&mine, sizeof(Packed), MPI_BYTE, all.data(), sizeof(Packed), MPI_BYTE, comm);
  // A node's GPUs: every id any of its ranks sees (with one GPU per task each rank sees
  // only its own).
  std::map<int, std::set<std::string>> nodeGpus;
  for (const Packed& p : all) {
    std::string list = p.gpus;
    for (std::size_t from = 0, comma; (comma = list.find(',', from)) != std::string::npos;
         from = comma + 1) {
      nodeGpus[p.node].insert(list.substr(from, comma - from));
    }
  }
  std::vector<RankPlace> places;
  for (const Packed& p : all) {
    std::vector<std::string> ids(nodeGpus[p.node].begin(), nodeGpus[p.node].end());
    // Numbers in numeric order (10 after 9), other ids (UUIDs) as text.
    std::sort(ids.begin(), ids.end(), [](const std::string& a, const std::string& b) {
      const auto numeric = [](const std::string& s) {
        return !s.empty() && s.size() < 10 &&
               s.find_first_not_of("0123456789") == std::string::npos;
      };
      if (numeric(a) && numeric(b)) return std::stoi(a) < std::stoi(b);
      return a < b;
    });
    places.push_back({p.node, p.local, p.size, p.cores, static_cast<int>(ids.size()), p.host, ids});
  }
  return places;
}

}  // namespace trkaas::service
