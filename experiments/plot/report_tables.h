// The text parts of the report page (experiments/plot/report.h): the header that says what was run
// and where, the outcome table, and the folded configs. HTML fragments; every piece of text that
// comes from a run directory is escaped.
#pragma once
#include <string>
#include <vector>

#include "experiments/plot/report_run.h"

namespace delve {

// Text safe in HTML content and in double-quoted attributes.
std::string escape_html(const std::string& text);

// What was run: configs, members and the keys in which they differ, when, delve version, CPU,
// BLAS core, threads, wall time.
std::string report_header(const std::vector<ReportRun>& runs);
// Per run: status, final and best train and test error, loss, images/s, skipped steps, time.
std::string outcome_table(const std::vector<ReportRun>& runs);
// Each run's resolved config as JSON, folded in a <details>.
std::string config_details(const std::vector<ReportRun>& runs);

}  // namespace delve
