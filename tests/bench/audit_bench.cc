// mend-audit-bench: what the audit costs against reading the log at all.
//
// A case-service log of --events records (one million by default), written
// through the store from the case domain's own decisions (referral,
// suitability, allocation, acknowledgement, risk assessment: eight records a
// case), is
//   scanned   by a raw RocksDB iterator over the events (the floor: nothing
//             decoded, nothing checked),
//   verified  as `mend-audit verify` does on a data directory: the audit's
//             own pass (positions, chain, stream versions, every payload
//             decoded by its schema, the records' Merkle tree; in chunks on
//             every core), then the store's structural check against what
//             it found (indexes, stored tree, stored head),
//   replayed  as `mend-audit replay --case ID` does: the records checked and
//             folded through the case domain's Evolve.
// Each is run --rounds times; the best of each is kept (a pass over a log in
// the page cache: what the machine can do, not what the disk did that
// moment). Prints:
//   ratio verify_vs_scan VALUE target 0.3
//   ratio audit_replay_vs_scan VALUE target 0.2
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/base/command_context.h"
#include "common/eventlog/event_store.h"
#include "services/case/case_decide.h"
#include "services/case/case_state.h"
#include "tests/bench/raw_scan.h"
#include "tests/support/test_util.h"
#include "tools/audit/audit_log.h"
#include "tools/audit/log_verifier.h"
#include "tools/audit/replay_fold.h"
#include "tools/audit/verify_log.h"

ABSL_FLAG(int64_t, events, 1'000'000, "records in the log (rounded up to whole cases)");
ABSL_FLAG(int, rounds, 3, "passes of each measurement (the best is kept)");

namespace {

namespace case_v1 = ::mend::case_::v1;
namespace common_v1 = ::mend::common::v1;
namespace casesvc = ::mend::casesvc;
namespace eventlog = ::mend::eventlog;
using Clock = std::chrono::steady_clock;

[[noreturn]] void Die(const std::string& what, const absl::Status& status) {
  std::fprintf(stderr, "%s: %s\n", what.c_str(), status.ToString().c_str());
  std::exit(1);
}

double Seconds(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

common_v1::Sealed Sealed(const std::string& person) {
  common_v1::Sealed s;
  s.set_person_id(person);
  s.set_ciphertext(std::string(48, 'x'));  // the size of a sealed short text
  return s;
}

// One case's decisions, each appended to its stream as the handler would.
class Populator {
 public:
  explicit Populator(eventlog::EventStore* store) : store_(store) {}

  int64_t AddCase(int64_t n) {
    const std::string id =
        absl::StrCat("00000000-0000-4000-8000-", absl::Dec(n, absl::kZeroPad12));
    casesvc::CaseState state;
    const mend::CommandContext manager{.actor_id = "manager-mia",
                                       .role = mend::Role::kManager,
                                       .now = absl::FromUnixSeconds(1'790'000'000)};
    const mend::CommandContext ann{.actor_id = "facilitator-ann",
                                   .role = mend::Role::kFacilitator,
                                   .now = manager.now};
    casesvc::ReferCaseCommand refer;
    refer.case_id = id;
    refer.reference = absl::StrCat("RJ-2026-", n);
    refer.source = case_v1::PROBATION_OFFICER;
    refer.referral_date = "2026-09-01";
    refer.offence_category = case_v1::ACQUISITIVE;
    refer.offence_summary = Sealed("su-1");
    for (auto [who, role] :
         {std::pair{"su-1", case_v1::SERVICE_USER}, std::pair{"v-1", case_v1::VICTIM}}) {
      case_v1::Participant p;
      p.set_participant_id(who);
      p.set_role(role);
      *p.mutable_details() = Sealed(who);
      refer.participants.push_back(p);
    }
    Apply(state, id, casesvc::DecideReferCase(state, refer, manager), manager);
    Apply(state, id,
          casesvc::DecideRecordSuitability(
              state, {.case_id = id, .suitable = true, .reason = {}}, manager),
          manager);
    Apply(state, id,
          casesvc::DecideAllocateFacilitator(
              state, {.case_id = id, .facilitator_id = "facilitator-ann"}, manager),
          manager);
    casesvc::RecordAcknowledgementCommand ack;
    ack.case_id = id;
    ack.acknowledged = true;
    Apply(state, id, casesvc::DecideRecordAcknowledgement(state, ack, ann), ann);
    casesvc::RecordRiskAssessmentCommand risk;
    risk.case_id = id;
    risk.assessment_id = absl::StrCat("ra-", n);
    risk.level = case_v1::LOW;
    risk.allowed_kinds = {common_v1::APPROACH_VICTIM, common_v1::LETTER_DELIVERY};
    risk.review_date = "2026-12-01";
    Apply(state, id, casesvc::DecideRecordRiskAssessment(state, risk, ann), ann);
    return state.version;
  }

  // Sends what is pending as one write (many streams, one fsync).
  void Flush() {
    if (pending_.appends.empty()) return;
    absl::StatusOr<eventlog::WriteResult> r = store_->Write(std::move(pending_));
    if (!r.ok()) Die("populate", r.status());
    pending_ = {};
  }

 private:
  void Apply(casesvc::CaseState& state, const std::string& id,
             absl::StatusOr<std::vector<casesvc::DomainEvent>> decided,
             const mend::CommandContext& ctx) {
    if (!decided.ok()) Die("decide", decided.status());
    eventlog::StreamAppend append{.stream_id = casesvc::CaseStreamId(id),
                                  .expected = eventlog::ExpectedVersion::Any(),
                                  .events = {}};
    for (casesvc::DomainEvent& e : *decided) {
      append.events.push_back({.event_id = absl::StrCat("e-", ++ids_),
                               .event_type = e.type(),
                               .payload = e.SerializePayload(),
                               .actor_id = ctx.actor_id,
                               .actor_role = std::string(mend::RoleName(ctx.role)),
                               .correlation_id = absl::StrCat("r-", ids_),
                               .causation_id = ""});
      e.position = ++position_;  // the store numbers them the same way, in order
      if (absl::Status s = casesvc::Evolve(state, e); !s.ok()) Die("evolve", s);
    }
    // One append per stream in a write: a case's decisions go together.
    if (!pending_.appends.empty() &&
        pending_.appends.back().stream_id == append.stream_id) {
      for (eventlog::NewEvent& e : append.events) {
        pending_.appends.back().events.push_back(std::move(e));
      }
    } else {
      if (pending_.appends.size() >= 200) Flush();
      pending_.appends.push_back(std::move(append));
    }
  }

  eventlog::EventStore* store_;
  eventlog::WriteRequest pending_;
  int64_t ids_ = 0;
  uint64_t position_ = 0;
};

struct VerifyRates {
  double total = 0;       // the whole of `verify` on a directory
  double records = 0;     // the audit's pass over the records (every core)
  double structures = 0;  // the store's check against its facts (three walks)
};

// As `mend-audit verify` does it on a directory: the audit's pass over the
// records (positions, chain, streams, payloads, the records' tree), then the
// store's structural check against what it found (the indexes, the stored
// tree and head).
VerifyRates Verify(const std::string& path, int64_t expected) {
  absl::StatusOr<std::unique_ptr<mend::audit::AuditLog>> log =
      mend::audit::OpenAuditLog(path, mend::audit::ConnectOptions{});
  if (!log.ok()) Die("open", log.status());
  absl::StatusOr<eventlog::Head> head = (*log)->GetHead();
  if (!head.ok()) Die("head", head.status());
  const double n = static_cast<double>(expected);
  const auto start = Clock::now();
  eventlog::RecordFacts facts(head->position);
  absl::StatusOr<mend::audit::VerifiedLog> verified = mend::audit::VerifyLog(
      **log, "case", *head, {.root_sizes = {}, .decode_payloads = true}, nullptr, &facts);
  const double records_seconds = Seconds(start);
  if (!verified.ok()) Die("verify", verified.status());
  if (verified->finding.has_value() ||
      static_cast<int64_t>(verified->records) != expected) {
    std::fprintf(stderr, "verify failed: %s\n",
                 verified->finding ? verified->finding->problem.c_str() : "short");
    std::exit(1);
  }
  const auto structures_start = Clock::now();
  std::optional<eventlog::VerifyReport> report = (*log)->CheckStructures(facts);
  const double structures_seconds = Seconds(structures_start);
  if (!report.has_value() || !report->ok) {
    std::fprintf(stderr, "the store's check failed: %s\n",
                 report ? report->problem.c_str() : "no report");
    std::exit(1);
  }
  return {.total = n / Seconds(start),
          .records = n / records_seconds,
          .structures = n / structures_seconds};
}

double Replay(const std::string& path, int64_t expected, const std::string& case_id) {
  absl::StatusOr<std::unique_ptr<mend::audit::AuditLog>> log =
      mend::audit::OpenAuditLog(path, mend::audit::ConnectOptions{});
  if (!log.ok()) Die("open", log.status());
  const auto start = Clock::now();
  absl::StatusOr<mend::audit::ReplayResult> r =
      mend::audit::Replay(**log, mend::audit::Service::kCase, {}, case_id);
  const double elapsed = Seconds(start);
  if (!r.ok()) Die("replay", r.status());
  if (r->finding.has_value() || static_cast<int64_t>(r->until_position) != expected) {
    std::fprintf(stderr, "replay stopped at %llu: %s\n",
                 static_cast<unsigned long long>(r->until_position),
                 r->finding ? r->finding->problem.c_str() : "");
    std::exit(1);
  }
  return static_cast<double>(expected) / elapsed;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const int64_t wanted = absl::GetFlag(FLAGS_events);
  const int rounds = std::max(1, absl::GetFlag(FLAGS_rounds));
  mend::testing::TempDir dir;
  const std::string path = dir.Sub("case-log");
  int64_t events = 0;
  std::string first_case;
  {
    absl::StatusOr<std::unique_ptr<eventlog::EventStore>> store =
        eventlog::EventStore::Open({.path = path});
    if (!store.ok()) Die("open", store.status());
    Populator populator(store->get());
    const auto start = Clock::now();
    for (int64_t n = 0; events < wanted; ++n) events += populator.AddCase(n);
    populator.Flush();
    first_case = "00000000-0000-4000-8000-000000000000";
    std::printf("case log of %lld events (8 a case), populated in %.1f s\n",
                static_cast<long long>(events), Seconds(start));
  }
  double scan = 0, replay = 0;
  VerifyRates verify;
  for (int round = 0; round < rounds; ++round) {
    scan = std::max(scan, mend::bench::RawScanRate(path, events));
    VerifyRates v = Verify(path, events);
    if (v.total > verify.total) verify = v;
    replay = std::max(replay, Replay(path, events, first_case));
  }
  std::printf("  raw RocksDB iterator scan:   %.0f events/s\n", scan);
  std::printf("  verify (as mend-audit verify on a directory): %.0f events/s\n",
              verify.total);
  std::printf(
      "    the records (chain, positions, streams, payloads, tree): %.0f events/s\n",
      verify.records);
  std::printf(
      "    the store's structures (indexes, stored tree and head):  %.0f events/s\n",
      verify.structures);
  std::printf("  replay through the case domain (as replay --case): %.0f events/s\n",
              replay);
  std::printf("ratio verify_vs_scan %.2f target 0.3\n", verify.total / scan);
  std::printf("ratio audit_replay_vs_scan %.2f target 0.2\n", replay / scan);
  return 0;
}
