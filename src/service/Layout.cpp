#include "trkaas/service/Layout.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include <fmt/format.h>

#include "trkaas/core/Error.hpp"

namespace trkaas {

Layout planLayout(const LayoutConfig& c, const std::vector<RankPlace>& places) {
  if (c.serversPerNode < 0) throw Error("layout: servers per node must be >= 0");
  if (!(c.producersPerServer >= 0) || !std::isfinite(c.producersPerServer)) {
    throw Error("layout: producers per server must be a number >= 0");
  }
  if (c.serversPerNode > 0 && c.producersPerServer > 0) {
    throw Error("layout: give either servers per node or producers per server, not both");
  }
  if (c.serverThreads < 0) throw Error("layout: server threads must be >= 0");
  if (places.empty()) throw Error("layout: no ranks");

  // The ranks of each node, by local rank.
  std::map<int, std::vector<int>> nodes;
  for (std::size_t r = 0; r < places.size(); ++r) nodes[places[r].node].push_back(int(r));
  const std::set<int> producerNodes(c.producerNodes.begin(), c.producerNodes.end());
  const std::set<int> serverNodes(c.serverNodes.begin(), c.serverNodes.end());
  for (const auto& [list, name] :
       {std::pair<const std::set<int>&, const char*>{producerNodes, "producer"},
        {serverNodes, "server"}}) {
    for (int node : list) {
      if (nodes.count(node) == 0) {
        throw Error(
            fmt::format("layout: {} node {} is not in the job: its {} rank(s) are on {} node(s), "
                        "numbered 0 to {} in the order of their first rank",
                        name, node, places.size(), nodes.size(), nodes.rbegin()->first));
      }
    }
  }
  for (int node : producerNodes) {
    if (serverNodes.count(node) != 0) {
      throw Error(
          fmt::format("layout: node {} is given as a producer node and a server node", node));
    }
  }
  Layout layout;
  layout.ranks.resize(places.size());
  for (auto& [node, ranks] : nodes) {
    std::sort(ranks.begin(), ranks.end(),
              [&](int a, int b) { return places[a].localRank < places[b].localRank; });
    const RankPlace& first = places[ranks.front()];
    const int size = static_cast<int>(ranks.size());
    int servers = 0;
    if (producerNodes.count(node) != 0) {
      servers = 0;
    } else if (serverNodes.count(node) != 0) {
      servers = size;
    } else if (c.serversPerNode > 0) {
      servers = c.serversPerNode;
    } else if (c.producersPerServer > 0) {
      servers = std::max(1, static_cast<int>(std::lround(size / (c.producersPerServer + 1.0))));
    } else {
      servers = std::max(1, first.gpus);
    }
    if (servers > size) {
      throw Error(fmt::format(
          "layout: node {} ({}) has {} rank(s) but {} server(s) were asked for there{}", node,
          first.host, size, servers,
          c.serversPerNode > 0 ? "" : " (one per visible GPU; set --servers-per-node)"));
    }
    const int producers = size - servers;
    const int shared = c.serverThreads > 0
                           ? c.serverThreads
                           : std::max(1, (first.cores - producers) / std::max(1, servers));
    for (int k = 0; k < size; ++k) {
      RankPlan& plan = layout.ranks[ranks[k]];
      if (k >= producers) {
        const int j = k - producers;  // server j of this node
        plan.role = Role::kServer;
        plan.device = first.gpus > 0 ? j % first.gpus : -1;
        plan.threads = shared;
      } else {
        plan.role = Role::kProducer;
        plan.threads = 1;
      }
    }
  }
  for (std::size_t r = 0; r < layout.ranks.size(); ++r) {
    RankPlan& plan = layout.ranks[r];
    auto& list = plan.role == Role::kServer ? layout.servers : layout.producers;
    plan.index = static_cast<int>(list.size());
    list.push_back(static_cast<int>(r));
  }
  if (layout.producers.empty()) {
    throw Error(fmt::format(
        "layout: {} rank(s) on {} node(s) leave no producer rank ({} server(s)); the service "
        "needs at least one producer and one server: start more ranks, lower "
        "--servers-per-node, or use --mode direct",
        places.size(), nodes.size(), layout.servers.size()));
  }
  if (layout.servers.empty()) throw Error("layout: no server rank");
  return layout;
}

std::vector<int> parseNodeList(const std::string& text, const std::string& what) {
  std::vector<int> nodes;
  std::size_t pos = 0;
  const auto bad = [&] {
    return Error(fmt::format(
        "{}: '{}' is not a list of node indices such as 0,2-3 (nodes are numbered from 0 "
        "in the order of their first rank)",
        what, text));
  };
  const auto number = [&](std::size_t& at) {
    std::size_t end = at;
    while (end < text.size() && text[end] >= '0' && text[end] <= '9') ++end;
    if (end == at || end - at > 6) throw bad();
    const int value = std::stoi(text.substr(at, end - at));
    at = end;
    return value;
  };
  while (pos < text.size()) {
    const int first = number(pos);
    int last = first;
    if (pos < text.size() && text[pos] == '-') last = number(++pos);
    if (last < first) throw bad();
    for (int n = first; n <= last; ++n) nodes.push_back(n);
    if (pos < text.size() && text[pos++] != ',') throw bad();
    if (pos == text.size() && text.back() == ',') throw bad();
  }
  return nodes;
}

std::string Layout::describe(const std::vector<RankPlace>& places) const {
  std::string out = fmt::format("{} producer(s), {} server(s):", producers.size(), servers.size());
  for (std::size_t r = 0; r < ranks.size(); ++r) {
    const RankPlan& p = ranks[r];
    out += fmt::format("\n  rank {:>4} on {} (node {}, local {}): {} {}{}, {} thread(s)", r,
                       places[r].host, places[r].node, places[r].localRank,
                       p.role == Role::kServer ? "server" : "producer", p.index,
                       p.role == Role::kServer
                           ? (p.device >= 0 ? fmt::format(", GPU {}", p.device) : ", CPU")
                           : "",
                       p.threads);
  }
  return out;
}

}  // namespace trkaas
