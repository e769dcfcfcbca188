// mend-audit replay: folds a service's own domain code over its log up to a
// position or a time and prints the state then as JSON (replay_fold.h, and
// replay_json.h for each service's JSON).
//
//   mend-audit replay --log /var/lib/mend/case/eventlog --until 1200
//   mend-audit replay --log 127.0.0.1:7001 --token_file auditor.token
//       --until 2026-03-01T10:00:00Z --case 5f0c…                (one line)
//
// Exit codes: 0 the state was printed; 1 a finding (the log does not check,
// or the service's replay refuses a record: printed, no state); 2 usage or
// I/O (a bad --until, a position past the head, an unknown --service, a
// --service that is not the log's, an unreadable log).
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "tools/audit/commands.h"
#include "tools/audit/replay_fold.h"

ABSL_DECLARE_FLAG(std::string, log);
ABSL_DECLARE_FLAG(std::string, case);

ABSL_FLAG(std::string, until, "",
          "replay: the last position to fold (an integer >= 0), or an RFC 3339 time "
          "(every record recorded at or before it); empty: the whole log");
ABSL_FLAG(std::string, service, "",
          "replay: whose log it is (case, consent, scheduling, conference); empty: "
          "detected from the log's first record");

namespace mend::audit {

int RunReplay(const Args& args) {
  if (!args.empty()) return UsageError("replay takes no positional arguments");
  absl::StatusOr<ReplayUntil> until = ParseUntil(absl::GetFlag(FLAGS_until));
  if (!until.ok()) return UsageError(std::string(until.status().message()));
  const std::string service_flag = absl::GetFlag(FLAGS_service);
  std::optional<Service> asked;
  if (!service_flag.empty()) {
    absl::StatusOr<Service> parsed = ParseService(service_flag);
    if (!parsed.ok()) {
      return UsageError(absl::StrCat("--service: ", parsed.status().message()));
    }
    asked = *parsed;
  }

  absl::StatusOr<std::unique_ptr<AuditLog>> opened =
      OpenLogFlag("--log", absl::GetFlag(FLAGS_log));
  if (!opened.ok()) return IoError(opened.status());
  AuditLog& log = **opened;
  absl::StatusOr<Service> detected = log.DetectService();
  if (!detected.ok()) return IoError(detected.status());
  if (asked.has_value() && *detected != Service::kUnknown && *asked != *detected) {
    return UsageError(
        absl::StrCat("--service ", service_flag, ": ", log.spec(), " is the ",
                     std::string(ServiceName(*detected)),
                     " service's log (its first stream is of that service)"));
  }
  const Service service = asked.value_or(*detected);
  if (service == Service::kUnknown) {
    return UsageError(absl::StrCat(
        log.spec(),
        ": cannot tell whose log this is (it is empty, or its first record is of no "
        "known service): give --service case|consent|scheduling|conference"));
  }

  const std::string case_id = absl::GetFlag(FLAGS_case);
  absl::StatusOr<ReplayResult> result = Replay(log, service, *until, case_id);
  if (absl::IsInvalidArgument(result.status())) {
    return UsageError(std::string(result.status().message()));
  }
  if (absl::IsDataLoss(result.status())) {
    // A directory whose keys are not positions: the log is broken.
    PrintFinding(
        {std::string(ServiceName(service)), 0, std::string(result.status().message())});
    return kExitFinding;
  }
  if (!result.ok()) return IoError(result.status());
  if (result->finding.has_value()) {
    PrintFinding(*result->finding);
    return kExitFinding;
  }
  if (!case_id.empty() && result->json["cases"].empty()) {
    std::fprintf(stderr, "mend-audit: no case \"%s\" in the %s log up to position %llu\n",
                 case_id.c_str(), std::string(ServiceName(service)).c_str(),
                 static_cast<unsigned long long>(result->until_position));
  }
  const std::string out =
      result->json.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fputc('\n', stdout);
  if (std::fflush(stdout) != 0 || std::ferror(stdout)) {
    return UsageError("the state could not be written to stdout");
  }
  return kExitOk;
}

}  // namespace mend::audit
