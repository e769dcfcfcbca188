// The completeness check of victim contact (DESIGN I1–I3, "Ordering across
// logs"): from the four logs, the timeline of every contact decision and
// every victim contact of a case, and whether each contact rests on a
// decision that allowed it at that moment.
//
//   MEND_ASSIGN_OR_RETURN(AuditLogs logs, LoadAuditLogs(sources, case_id));
//   CaseAudit audit = AuditCase(logs, case_id);
//   for (const DecisionFinding& f : audit.findings) ...
//
// A contact is every event of the scheduling or conference log that carries
// an `approval` (the decision it rests on): a booking with a victim
// (PreparationMeetingBooked, ConferenceBooked, BookingReleased), a letter
// offered or delivered, a shuttle message carried, a conference started, a
// victim informed. Each must rest on a decision that
//   - exists in the consent log at the position the contact cites,
//   - is APPROVED, for the same case, victim and kind (the kind the contact
//     is: a delivered letter is LETTER_DELIVERY, whatever the approval says),
//     and, for the conference service's contacts, for the facilitator who
//     made the contact,
//   - came before the contact, and
//   - was not undone before the contact was recorded: a withdrawal (by
//     either party, of a scope the decision relied on), a newer risk
//     assessment, a pause, a closure, the release of the decision's
//     facilitator, an erasure of either party — recorded after what the
//     decision knew (its case position; its own consent position). Whether
//     the contact's service knew of it is judged by the positions it had
//     handled (the contact's `handled`): known before the contact — a
//     violation; not yet handled but recorded before the contact — a race,
//     reported as such (the service could not have known).
// Each decision is re-run with the rule version it names on the facts
// folded from its stream before it (consentsvc::ExplainDecision, the consent
// domain's own code): another outcome, other reasons or other consulted
// facts are findings. Every case-log fact the consent service observed
// (CaseEventObserved) must be in the case log at its position with the hash
// it recorded, and every fact a decision consulted must be there with the
// type it names.
//
// Thread-compatible; the logs are read once, up front.
#ifndef MEND_TOOLS_AUDIT_DECISIONS_H_
#define MEND_TOOLS_AUDIT_DECISIONS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "mend/eventlog/v1/tree.pb.h"
#include "tools/audit/audit_cli.h"
#include "tools/audit/audit_log.h"

namespace mend::audit {

// One record of a log, kept for the audit.
struct KeptRecord {
  uint64_t position = 0;
  std::string stream_id;
  uint64_t stream_version = 0;
  std::string event_type;
  std::string event_id;
  std::string actor_id;
  std::string actor_role;
  int64_t recorded_unix_micros = 0;
  std::string payload;
  std::string hash;  // SHA-256 of the stored bytes
};

// The records of one log that belong to the cases audited (their streams),
// by position, and by case.
struct LogRecords {
  Service service = Service::kUnknown;
  std::string spec;                     // where it was read from
  uint64_t head = 0;                    // records read: 1..head
  std::optional<Finding> verification;  // the log's own check (log_verifier.h)
  std::string root;                     // the records' tree root (32 bytes)
  // The newest signed head, as stored (its signature is verify's to check
  // with the public key), and whether the records' root at its size is its.
  std::optional<eventlog::v1::TreeHead> newest_head;
  bool newest_head_matches = false;
  std::map<uint64_t, KeptRecord> by_position;
  std::map<std::string, std::vector<uint64_t>> by_case;  // positions, in order

  const KeptRecord* At(uint64_t position) const {
    auto it = by_position.find(position);
    return it == by_position.end() ? nullptr : &it->second;
  }
};

struct AuditLogs {
  LogRecords case_log;
  LogRecords consent;
  LogRecords scheduling;
  LogRecords conference;

  const LogRecords& Of(Service service) const;
};

// The four logs' specs (directories or addresses).
struct AuditSources {
  std::string case_log;
  std::string consent;
  std::string scheduling;
  std::string conference;
  ConnectOptions connect{};  // for the addresses among them
};

// Reads the four logs, keeping the records of `case_id`'s streams (every
// case's when nullopt) and every contact decision of any case, each log checked by the
// verifier on the way (a finding is kept in LogRecords::verification: the audit goes on,
// on the records before it). A log whose records are of another service than its flag
// says is INVALID_ARGUMENT; I/O errors as OpenAuditLog's.
absl::StatusOr<AuditLogs> LoadAuditLogs(const AuditSources& sources,
                                        const std::optional<std::string>& case_id);

// The case ids of every case in the case log, in the order referred.
std::vector<std::string> CaseIds(const AuditLogs& logs);

struct DecisionFinding {
  enum class Kind {
    kViolation,  // a contact that did not rest on a decision allowing it then
    kRace,       // undone concurrently: recorded before the contact, not yet
                 // handled by its service
    kMismatch,   // a decision that does not re-run to itself, a fact cited
                 // that is not in its log as cited
  };
  Kind kind = Kind::kViolation;
  Service log = Service::kUnknown;  // where the thing found is
  uint64_t position = 0;
  std::string problem;
};
// "VIOLATION", "RACE", "MISMATCH".
std::string_view KindName(DecisionFinding::Kind kind);

struct TimelineEntry {
  enum class Kind {
    kDecision,  // a ContactDecisionMade
    kContact,   // an event with an approval
    kUndo,      // something that undoes decisions: a withdrawal, a pause, ...
    kFact,      // another event of the case (its stage, consents, bookings...)
  };
  Kind kind = Kind::kFact;
  Service log = Service::kUnknown;
  uint64_t position = 0;
  int64_t recorded_unix_micros = 0;
  std::string event_type;  // short: "ContactDecisionMade"
  std::string summary;     // ids, enum names: no personal data
  // A decision: its id and outcome. A contact: the decision it rests on.
  std::string decision_id;
  std::string outcome;             // "APPROVED" / "REFUSED" for a decision
  uint64_t decision_position = 0;  // a contact: the decision's consent position
  std::vector<size_t> findings;    // indexes into CaseAudit::findings
  // A fact the service copied from an upstream log (consent's
  // CaseEventObserved, UpstreamFactRecorded): shown small.
  bool mirror = false;
};

struct CaseAudit {
  std::string case_id;
  std::vector<TimelineEntry> timeline;  // by recorded time, then log, position
  std::vector<DecisionFinding> findings;
  int decisions = 0;
  int approved = 0;
  int refused = 0;
  int contacts = 0;
  int reruns_matching = 0;  // decisions whose re-run gave them again

  bool violations() const;  // any kViolation or kMismatch
  bool races() const;
};

CaseAudit AuditCase(const AuditLogs& logs, const std::string& case_id);

// LoadAuditLogs from the flags --case_log, --consent_log, --scheduling_log,
// --conference_log and the connection flags (decisions_command.cc); and the
// --case flag: for the commands that take the four logs.
absl::StatusOr<AuditLogs> LoadLogsFromFlags(const std::optional<std::string>& case_id);
std::string CaseFlag();

// Short names for display: "consent", "ContactDecisionMade" from
// "mend.consent.v1.ContactDecisionMade".
std::string ShortType(std::string_view event_type);

}  // namespace mend::audit

#endif  // MEND_TOOLS_AUDIT_DECISIONS_H_
