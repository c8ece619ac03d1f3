#pragma once
// Internal helpers shared by the campaign sources (not installed, not public).
#include <cstddef>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "trkaas/campaign/Campaign.hpp"

namespace trkaas::campaign::detail {

/// Absolute and normalized, as the service's journals name files.
std::string absolutePath(const std::string& path);
/// Writes `path + ".part"` and renames it: readers never see half a file.
void writeText(const std::filesystem::path& path, const std::string& text);
nlohmann::json readJson(const std::filesystem::path& path);
/// The first line of `s`, cut to `max` characters.
std::string firstLine(const std::string& s, std::size_t max = 160);
/// Output of a shell command (stdout), and its exit status.
std::string capture(const std::string& command, int& status);
/// The Slurm job name of a campaign's chunks (status finds its queued tasks by it).
std::string jobName(const Campaign& campaign);
/// H:MM:SS, as sbatch --time takes it.
std::string slurmTime(double seconds);

}  // namespace trkaas::campaign::detail
