#pragma once
/// One CSV row per service run: the numbers of a report.json (or report-rRRR.json) that a
/// ratio scan or a campaign compares across runs. `trkaas report --csv` writes them;
/// tools/plots/trkaas_plots.py plots them.

#include <string>
#include <vector>

namespace trkaas {

/// The CSV header fields, in order (see README "trkaas report" for their meaning).
const std::vector<std::string>& reportColumns();

/// The row of one report file, `label` first. Throws trkaas::Error naming the file when it
/// cannot be read or is not a trkaas service report. Fields that the report does not have
/// (e.g. GPU busy on a CPU server, physics without truth) are empty.
std::vector<std::string> reportRow(const std::string& reportPath, const std::string& label);

/// A CSV line (no trailing newline); fields with a comma, quote or newline are quoted.
std::string csvLine(const std::vector<std::string>& fields);

}  // namespace trkaas
