// mend-scenario: drives the case study (DESIGN, steps 1-10; tools/scenario/
// story.h) through the four services' public gRPC APIs, printing a timeline
// as it goes, then audits each case with mend-audit and prints the report's
// path.
//
//   mend-scenario --token_key=dev-keys/token-key.pem --tls_ca=dev-certs/ca.pem
//       --tls_cert=dev-certs/client.pem --tls_key=dev-certs/client-key.pem
//   mend-scenario --token_key=... --cases=3 --summary_json=run.json
//
// Every flag is also a MEND_* variable (--case_address <-> MEND_CASE_ADDRESS).
// Exit status: 0 when every case reached its closure and the audit found
// nothing; 1 when a step failed (the step, the gRPC code and the message are
// printed) or the audit found something; 2 for a bad flag.
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/base/config.h"
#include "common/runtime/uuid.h"
#include "common/security/auth.h"
#include "tools/scenario/audit_run.h"
#include "tools/scenario/clients.h"
#include "tools/scenario/story.h"
#include "tools/scenario/summary.h"
#include "tools/scenario/timeline.h"

ABSL_FLAG(std::string, case_address, "127.0.0.1:7001", "the case service (host:port)");
ABSL_FLAG(std::string, consent_address, "127.0.0.1:7002", "the consent service");
ABSL_FLAG(std::string, scheduling_address, "127.0.0.1:7003", "the scheduling service");
ABSL_FLAG(std::string, conference_address, "127.0.0.1:7004", "the conference service");
ABSL_FLAG(std::string, tls_ca, "",
          "PEM CA certificates the services' certificates are verified against; empty: "
          "plaintext");
ABSL_FLAG(std::string, tls_cert, "", "client certificate for mutual TLS");
ABSL_FLAG(std::string, tls_key, "", "private key of --tls_cert");
ABSL_FLAG(std::string, token_key, "",
          "the token signing private key (PEM; scripts/dev-token-key.sh): the scenario "
          "mints each actor's short-lived token with it; required");
ABSL_FLAG(int, cases, 1, "independent cases driven at once, one thread each (1..50)");
ABSL_FLAG(std::string, out_dir, "scenario-out",
          "where the audit's report and the summary go");
ABSL_FLAG(std::string, summary_json, "",
          "the machine-readable summary (default: <out_dir>/summary.json)");
ABSL_FLAG(std::string, audit_binary, "",
          "mend-audit (default: the one beside this program, or the build tree's)");
ABSL_FLAG(bool, no_audit, false, "skip the audit at the end");
ABSL_FLAG(std::string, run_id, "",
          "what makes this run's request and facilitator ids its own (default: random)");

namespace {

using ::mend::scenario::AuditOptions;
using ::mend::scenario::AuditResult;
using ::mend::scenario::CaseRecord;
using ::mend::scenario::CaseStory;
using ::mend::scenario::Clients;
using ::mend::scenario::ConnectOptions;
using ::mend::scenario::Timeline;

// Exits 2 with "mend-scenario: <message>": a configuration that cannot work.
[[noreturn]] void Unusable(absl::string_view message) {
  std::fprintf(stderr, "mend-scenario: %.*s\n", static_cast<int>(message.size()),
               message.data());
  std::exit(2);
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

bool WriteFile(const std::string& path, const std::string& text, mode_t mode = 0644) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  out.close();
  return out.good() && chmod(path.c_str(), mode) == 0;
}

// The flags as the run needs them; a bad one exits 2 naming it.
ConnectOptions CheckedFlags() {
  ConnectOptions o;
  o.case_address = absl::GetFlag(FLAGS_case_address);
  o.consent_address = absl::GetFlag(FLAGS_consent_address);
  o.scheduling_address = absl::GetFlag(FLAGS_scheduling_address);
  o.conference_address = absl::GetFlag(FLAGS_conference_address);
  o.tls_ca = absl::GetFlag(FLAGS_tls_ca);
  o.tls_cert = absl::GetFlag(FLAGS_tls_cert);
  o.tls_key = absl::GetFlag(FLAGS_tls_key);
  const std::string key_path = absl::GetFlag(FLAGS_token_key);
  if (key_path.empty()) {
    mend::ExitWithFlagError("token_key",
                            "required: the PEM key the tokens are signed with");
  }
  absl::StatusOr<std::string> key = ReadFile(key_path);
  if (!key.ok())
    mend::ExitWithFlagError("token_key", std::string(key.status().message()));
  o.token_key_pem = *key;
  if (absl::Status s = mend::MintToken(o.token_key_pem, "probe", mend::Role::kAuditor,
                                       absl::Minutes(1), absl::Now())
                           .status();
      !s.ok()) {
    mend::ExitWithFlagError("token_key", std::string(s.message()));
  }
  const int cases = absl::GetFlag(FLAGS_cases);
  if (cases < 1 || cases > 50) mend::ExitWithFlagError("cases", "must be 1..50");
  // It is part of every request and facilitator id ([A-Za-z0-9._:-]{1,128}).
  const std::string run_id = absl::GetFlag(FLAGS_run_id);
  if (run_id.size() > 40 ||
      run_id.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                               "0123456789._-") != std::string::npos) {
    mend::ExitWithFlagError("run_id", "at most 40 of A-Z a-z 0-9 . _ -");
  }
  absl::TimeZone london;
  if (!absl::LoadTimeZone("Europe/London", &london)) {
    Unusable(
        "the time zone Europe/London is not installed (tzdata): the bookings are made "
        "in it");
  }
  return o;
}

// Drives `cases` stories at once, one thread each: what each did.
std::vector<CaseRecord> RunStories(const Clients& clients, Timeline& timeline,
                                   const std::string& run_id, int cases) {
  std::vector<CaseRecord> records(cases);
  std::vector<std::thread> threads;
  for (int i = 0; i < cases; ++i) {
    threads.emplace_back([&, i] {
      CaseStory story(clients, timeline, run_id, i + 1);
      const absl::Status s = story.Run();
      records[i] = story.record();
      if (!s.ok()) {
        timeline.Print(i + 1, "scenario", absl::StrCat("FAILED: ", s.message()));
        std::fprintf(stderr, "mend-scenario: case #%d failed at %s\n", i + 1,
                     std::string(s.message()).c_str());
      }
    });
  }
  for (std::thread& t : threads) t.join();
  return records;
}

// Audits every completed case (AuditCase) as an auditor minted here, noting
// the outcome in its record and on the timeline: true if all came out clean.
bool AuditCompleted(const ConnectOptions& connect, const std::string& audit_binary,
                    const std::string& out_dir, Timeline& timeline,
                    std::vector<CaseRecord>& records) {
  const std::string token_file = out_dir + "/auditor.token";
  absl::StatusOr<std::string> token =
      mend::MintToken(connect.token_key_pem, "auditor-al", mend::Role::kAuditor,
                      absl::Minutes(15), absl::Now());
  if (!token.ok() || !WriteFile(token_file, *token + "\n", 0600)) {
    std::fprintf(stderr, "mend-scenario: cannot write the auditor's token to %s\n",
                 token_file.c_str());
    return false;
  }
  const AuditOptions options{.binary = audit_binary,
                             .case_address = connect.case_address,
                             .consent_address = connect.consent_address,
                             .scheduling_address = connect.scheduling_address,
                             .conference_address = connect.conference_address,
                             .tls_ca = connect.tls_ca,
                             .tls_cert = connect.tls_cert,
                             .tls_key = connect.tls_key,
                             .token_file = token_file,
                             .out_dir = out_dir};
  bool clean = true;
  for (CaseRecord& r : records) {
    if (!r.completed) continue;
    absl::StatusOr<AuditResult> result = mend::scenario::AuditCase(options, r.case_id);
    if (!result.ok()) {
      timeline.Print(r.number, "audit",
                     absl::StrCat("FAILED: ", result.status().message()));
      clean = false;
      continue;
    }
    r.audit_decisions_exit = result->decisions_exit;
    r.audit_report_exit = result->report_exit;
    r.report_path = result->report_path;
    for (const std::string& line : result->lines) timeline.Print(r.number, "audit", line);
    clean = clean && result->decisions_exit == 0 && result->report_exit == 0;
    timeline.Print(
        r.number, "audit",
        absl::StrCat("report: ", std::filesystem::absolute(r.report_path).string(),
                     result->report_exit == 0 ? "" : " (with findings)"));
  }
  return clean;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<char*> rest = mend::ParseFlagsWithEnvironment(argc, argv);
  if (rest.size() > 1) {
    std::fprintf(stderr,
                 "mend-scenario: unexpected argument '%s'; every input is a flag\n",
                 rest[1]);
    return 2;
  }
  const ConnectOptions connect = CheckedFlags();
  const int cases = absl::GetFlag(FLAGS_cases);
  const std::string out_dir = absl::GetFlag(FLAGS_out_dir);
  const bool audit = !absl::GetFlag(FLAGS_no_audit);
  std::string audit_binary;
  if (audit) {
    absl::StatusOr<std::string> found =
        mend::scenario::FindAuditBinary(absl::GetFlag(FLAGS_audit_binary));
    if (!found.ok()) {
      mend::ExitWithFlagError("audit_binary", std::string(found.status().message()));
    }
    audit_binary = *found;
  }
  std::error_code error;
  std::filesystem::create_directories(out_dir, error);
  if (error) mend::ExitWithFlagError("out_dir", error.message());
  absl::StatusOr<std::unique_ptr<Clients>> clients = Clients::Connect(connect);
  if (!clients.ok()) Unusable(clients.status().message());
  std::string run_id = absl::GetFlag(FLAGS_run_id);
  if (run_id.empty()) run_id = mend::NewUuid().substr(0, 8);

  std::printf(
      "mend-scenario: run %s, %d case(s): case %s, consent %s, scheduling %s, "
      "conference %s\n",
      run_id.c_str(), cases, connect.case_address.c_str(),
      connect.consent_address.c_str(), connect.scheduling_address.c_str(),
      connect.conference_address.c_str());
  Timeline timeline(cases > 1);
  const absl::Time start = absl::Now();
  std::vector<CaseRecord> records = RunStories(**clients, timeline, run_id, cases);
  const absl::Duration elapsed = absl::Now() - start;
  const bool clean =
      !audit || AuditCompleted(connect, audit_binary, out_dir, timeline, records);

  int completed = 0;
  for (const CaseRecord& r : records) completed += r.completed ? 1 : 0;
  const int commands = mend::scenario::CommandCount(records);
  const double seconds = absl::ToDoubleSeconds(elapsed);
  std::printf("cases completed: %d of %d, elapsed %.1f s, %d commands, %.1f commands/s\n",
              completed, cases, seconds, commands,
              seconds > 0 ? commands / seconds : 0.0);
  std::string summary = absl::GetFlag(FLAGS_summary_json);
  if (summary.empty()) summary = out_dir + "/summary.json";
  if (!WriteFile(summary, mend::scenario::SummaryJson(run_id, records, elapsed))) {
    std::fprintf(stderr, "mend-scenario: cannot write the summary to %s\n",
                 summary.c_str());
    return 1;
  }
  std::printf("summary: %s\n", summary.c_str());
  return completed == cases && clean ? 0 : 1;
}
