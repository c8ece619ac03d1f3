#pragma once
/// Which rank of the job is a producer and which a server, on which device and with how
/// many threads. A pure function of the settings and of where the ranks are (node, local
/// rank, cores, visible GPUs), so that every rank computes the same layout and an
/// impossible one fails on every rank alike, before any message is sent.
///
/// Rules:
///   - Producer nodes (`producerNodes`) hold producers only, server nodes (`serverNodes`)
///     servers only: CPU nodes feeding the GPU nodes' servers in one job (a heterogeneous
///     Slurm job's components, or a job over both kinds of node).
///   - Per other node, S servers: `serversPerNode` when set; else, with `producersPerServer`
///     R set, S = max(1, round(L / (R + 1))) of the node's L ranks; else one per visible
///     GPU, or one when the node has none.
///   - Servers are the node's last S local ranks (world rank 0 stays a producer where it
///     can), spread over the node's GPUs: server j uses GPU j mod G (device -1: CPU).
///   - Threads: each producer 1; the servers share the node's remaining cores equally
///     (at least 1 each) unless `serverThreads` is set.
///   - Errors: more servers than ranks on a node, no producer in the job, no server in
///     the job, a producer or server node that is not in the job or is in both lists.

#include <cstdint>
#include <string>
#include <vector>

namespace trkaas {

enum class Role { kProducer, kServer };

/// Where one rank runs, as its node sees it.
struct RankPlace {
  int node = 0;       ///< node index, 0.. in order of the nodes' lowest world rank
  int localRank = 0;  ///< rank among the ranks of its node
  int localSize = 1;  ///< ranks on its node
  int cores = 1;      ///< cores of its node available to the job
  int gpus = 0;       ///< GPUs visible on its node
  std::string host;   ///< for messages
  /// The ids of the node's GPUs (CUDA_VISIBLE_DEVICES entries or /dev/nvidiaN numbers of
  /// all its ranks), in order: a server's layout device d is gpuIds[d].
  std::vector<std::string> gpuIds;
};

struct LayoutConfig {
  int serversPerNode = 0;          ///< 0: not set
  double producersPerServer = 0;   ///< 0: not set
  int serverThreads = 0;           ///< 0: share the node's cores
  std::vector<int> producerNodes;  ///< node indices (RankPlace::node) with producers only
  std::vector<int> serverNodes;    ///< node indices with servers only
};

struct RankPlan {
  Role role = Role::kProducer;
  int index = 0;    ///< among the producers, or among the servers
  int device = -1;  ///< GPU of a server; -1 for the CPU
  int threads = 1;
};

struct Layout {
  std::vector<RankPlan> ranks;  ///< by world rank
  std::vector<int> producers;   ///< world ranks of the producers, by producer index
  std::vector<int> servers;     ///< world ranks of the servers, by server index
  /// One line per rank: role, node, device, threads.
  std::string describe(const std::vector<RankPlace>& places) const;
};

/// Throws trkaas::Error with the reason for a layout that cannot work. The config is
/// validated first (serversPerNode >= 0, producersPerServer >= 0, not both set, node
/// indices >= 0 and in at most one list).
Layout planLayout(const LayoutConfig& config, const std::vector<RankPlace>& places);

/// Node indices from a list such as "0,2-3" (the command line's --producer-nodes and
/// --server-nodes); empty text gives none. Throws trkaas::Error naming `what` otherwise.
std::vector<int> parseNodeList(const std::string& text, const std::string& what);

}  // namespace trkaas
