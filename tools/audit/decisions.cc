#include "tools/audit/decisions.h"

#include <algorithm>
#include <set>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/base/sha256.h"
#include "common/base/status_macros.h"
#include "common/eventlog/record_codec.h"
#include "google/protobuf/descriptor.h"
#include "mend/case/v1/events.pb.h"
#include "mend/common/v1/contact.pb.h"
#include "mend/conference/v1/events.pb.h"
#include "mend/consent/v1/events.pb.h"
#include "mend/scheduling/v1/events.pb.h"
#include "services/consent/consent_state.h"
#include "services/consent/contact_decision.h"
#include "services/consent/contact_rule.h"
#include "tools/audit/event_json.h"
#include "tools/audit/log_verifier.h"

namespace mend::audit {
namespace {

namespace case_v1 = ::mend::case_::v1;
namespace common_v1 = ::mend::common::v1;
namespace consent_v1 = ::mend::consent::v1;
namespace scheduling_v1 = ::mend::scheduling::v1;
namespace conference_v1 = ::mend::conference::v1;
using Kind = DecisionFinding::Kind;

constexpr std::string_view kDecisionType = "mend.consent.v1.ContactDecisionMade";

// The case a stream belongs to: "case-<id>", "consent-<id>",
// "schedule-<id>", "conference-<id>"; "" for any other stream.
std::string CaseOfStream(Service service, std::string_view stream_id) {
  std::string_view prefix;
  switch (service) {
    case Service::kCase:
      prefix = "case-";
      break;
    case Service::kConsent:
      prefix = "consent-";
      break;
    case Service::kScheduling:
      prefix = "schedule-";
      break;
    case Service::kConference:
      prefix = "conference-";
      break;
    case Service::kUnknown:
      return "";
  }
  if (!stream_id.starts_with(prefix)) return "";
  return std::string(stream_id.substr(prefix.size()));
}

std::string Time(int64_t micros) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::FromUnixMicros(micros),
                          absl::UTCTimeZone());
}

std::string Name(Service service) { return std::string(ServiceName(service)); }

std::string KindOf(common_v1::ContactKind kind) {
  return common_v1::ContactKind_Name(kind);
}

absl::StatusOr<LogRecords> LoadLog(const std::string& spec, Service expected,
                                   const ConnectOptions& connect,
                                   const std::optional<std::string>& case_id) {
  const std::string flag = absl::StrCat("--", std::string(ServiceName(expected)), "_log");
  if (spec.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, " is required: the ", std::string(ServiceName(expected)),
                     " service's data directory, or its host:port"));
  }
  absl::StatusOr<std::unique_ptr<AuditLog>> opened = OpenAuditLog(spec, connect);
  if (!opened.ok()) {
    return absl::Status(opened.status().code(),
                        absl::StrCat(flag, ": ", opened.status().message()));
  }
  AuditLog& log = **opened;
  MEND_ASSIGN_OR_RETURN(Service service, log.DetectService());
  if (service != expected && service != Service::kUnknown) {
    return absl::InvalidArgumentError(absl::StrCat(flag, " ", spec, " holds the ",
                                                   std::string(ServiceName(service)),
                                                   " service's log"));
  }
  LogRecords out;
  out.service = expected;
  out.spec = spec;
  MEND_ASSIGN_OR_RETURN(const eventlog::Head log_head, log.GetHead());
  const uint64_t head = log_head.position;
  MEND_ASSIGN_OR_RETURN(std::optional<eventlog::v1::SignedTreeHead> newest,
                        log.NewestSignedHead());
  LogVerifier::Options options;
  if (newest.has_value()) {
    eventlog::v1::TreeHead parsed;
    if (parsed.ParseFromString(newest->head())) {
      out.newest_head = parsed;
      options.root_sizes.push_back(parsed.tree_size());
    }
  }
  LogVerifier verifier(std::string(ServiceName(expected)), options);
  Progress progress(absl::StrCat("read ", std::string(ServiceName(expected))), head);
  absl::Status scan = log.Scan(1, head, [&](uint64_t position, std::string_view bytes) {
    progress.Update(position);
    if (!verifier.Add(position, bytes)) return false;
    eventlog::RecordView view;
    if (!eventlog::DecodeRecord(bytes, &view).ok()) return false;  // the verifier said
    std::string owner = CaseOfStream(expected, view.stream_id);
    const bool wanted =
        !case_id.has_value() || owner == *case_id ||
        (expected == Service::kConsent && view.event_type == kDecisionType);
    if (!wanted || owner.empty()) return true;
    KeptRecord& kept = out.by_position[position];
    kept.position = position;
    kept.stream_id = std::string(view.stream_id);
    kept.stream_version = view.stream_version;
    kept.event_type = std::string(view.event_type);
    kept.event_id = std::string(view.event_id);
    kept.actor_id = std::string(view.actor_id);
    kept.actor_role = std::string(view.actor_role);
    kept.recorded_unix_micros = view.recorded_unix_micros;
    kept.payload = std::string(view.payload);
    kept.hash = Sha256Bytes(bytes);
    out.by_case[owner].push_back(position);
    return true;
  });
  progress.Done();
  if (absl::IsDataLoss(scan)) {
    out.verification = Finding{std::string(ServiceName(expected)), verifier.records() + 1,
                               std::string(scan.message())};
  } else if (!scan.ok()) {
    return scan;
  }
  verifier.Finish(log_head);
  if (!out.verification.has_value() && verifier.finding().has_value()) {
    out.verification = verifier.finding();
  }
  out.head = verifier.records();
  out.root = verifier.Root();
  if (out.newest_head.has_value()) {
    auto it = verifier.roots().find(out.newest_head->tree_size());
    out.newest_head_matches =
        it != verifier.roots().end() && it->second == out.newest_head->root_hash();
  }
  return out;
}

// Something recorded after a decision that undoes it.
struct Undo {
  Service log = Service::kUnknown;
  uint64_t position = 0;
  int64_t recorded_unix_micros = 0;
  std::string what;                              // "a pause (CasePaused)"
  std::string facilitator_id;                    // a release: whose
  std::string participant_id;                    // an erasure or a withdrawal: whose
  std::vector<consent_v1::ConsentScope> scopes;  // a withdrawal
  bool all_scopes = false;
};

// A contact as the audit judges it.
struct Contact {
  Service log = Service::kUnknown;
  const KeptRecord* record = nullptr;
  common_v1::ContactKind kind = common_v1::CONTACT_KIND_UNSPECIFIED;  // what it is
  std::set<std::string> victims;  // the victims it is with (empty: any)
  std::string facilitator_id;     // who made it ("" not checked)
  std::string decision_id;
  uint64_t consent_position = 0;
  common_v1::CausalToken handled;
  std::string summary;
};

template <typename M>
bool Parse(const KeptRecord& r, M* m) {
  return m->ParseFromString(r.payload);
}

// The kind of a conference booked in the scheduling log.
common_v1::ContactKind KindOfFormat(scheduling_v1::ConferenceFormat format) {
  return format == scheduling_v1::VIDEO ? common_v1::VIDEO_MEETING
                                        : common_v1::FACE_TO_FACE_CONFERENCE;
}

template <typename Approval>
void TakeApproval(const Approval& approval, const common_v1::CausalToken& handled,
                  Contact* c) {
  c->decision_id = approval.decision_id();
  c->consent_position = approval.consent_position();
  c->handled = handled;
}

bool IsVictimRole(case_v1::ParticipantRole role) {
  return role == case_v1::VICTIM || role == case_v1::CO_VICTIM;
}

class CaseAuditor {
 public:
  CaseAuditor(const AuditLogs& logs, const std::string& case_id)
      : logs_(logs), case_id_(case_id) {
    audit_.case_id = case_id;
  }

  CaseAudit Run() {
    ReadCaseLog();
    ReadConsentLog();
    ReadContacts(logs_.scheduling);
    ReadContacts(logs_.conference);
    for (const Contact& c : contacts_) JudgeContact(c);
    Finish();
    return std::move(audit_);
  }

 private:
  const std::vector<uint64_t>& Positions(const LogRecords& log) const {
    static const std::vector<uint64_t> kNone;
    auto it = log.by_case.find(case_id_);
    return it == log.by_case.end() ? kNone : it->second;
  }

  void Add(DecisionFinding::Kind kind, Service log, uint64_t position,
           std::string problem) {
    audit_.findings.push_back({kind, log, position, std::move(problem)});
  }

  TimelineEntry& Entry(TimelineEntry::Kind kind, Service log, const KeptRecord& r,
                       std::string summary) {
    TimelineEntry& e = audit_.timeline.emplace_back();
    e.kind = kind;
    e.log = log;
    e.position = r.position;
    e.recorded_unix_micros = r.recorded_unix_micros;
    e.event_type = ShortType(r.event_type);
    e.summary = std::move(summary);
    return e;
  }

  void ReadCaseLog() {
    for (uint64_t position : Positions(logs_.case_log)) {
      const KeptRecord& r = *logs_.case_log.At(position);
      const std::string type = ShortType(r.event_type);
      Undo undo{Service::kCase, position, r.recorded_unix_micros, "", "", "", {}, false};
      std::string summary = type;
      if (type == "RiskAssessmentRecorded") {
        case_v1::RiskAssessmentRecorded e;
        Parse(r, &e);
        undo.what = absl::StrCat("a new risk assessment (", e.assessment_id(), ")");
        summary = absl::StrCat("risk assessment ", e.assessment_id(), " recorded");
      } else if (type == "CasePaused") {
        undo.what = "a pause";
        summary = "case paused";
      } else if (type == "CaseClosed") {
        case_v1::CaseClosed e;
        Parse(r, &e);
        undo.what = "the closure";
        summary =
            absl::StrCat("case closed (", case_v1::ClosureReason_Name(e.reason()), ")");
      } else if (type == "FacilitatorReleased") {
        case_v1::FacilitatorReleased e;
        Parse(r, &e);
        undo.what = absl::StrCat("the release of facilitator ", e.facilitator_id());
        undo.facilitator_id = e.facilitator_id();
        summary = absl::StrCat("facilitator ", e.facilitator_id(), " released");
      } else if (type == "ParticipantErased") {
        case_v1::ParticipantErased e;
        Parse(r, &e);
        undo.what = absl::StrCat("the erasure of ", e.participant_id());
        undo.participant_id = e.participant_id();
        summary = absl::StrCat(e.participant_id(), " erased");
      } else if (type == "StageChanged") {
        case_v1::StageChanged e;
        Parse(r, &e);
        summary = absl::StrCat("stage ", case_v1::Stage_Name(e.to()));
      } else if (type == "FacilitatorAllocated") {
        case_v1::FacilitatorAllocated e;
        Parse(r, &e);
        summary = absl::StrCat("facilitator ", e.facilitator_id(), " allocated");
      }
      const bool undoes = !undo.what.empty();
      Entry(undoes ? TimelineEntry::Kind::kUndo : TimelineEntry::Kind::kFact,
            Service::kCase, r, summary);
      if (undoes) case_undos_.push_back(std::move(undo));
    }
  }

  void ReadConsentLog() {
    consentsvc::CaseFacts facts;
    std::vector<consentsvc::ConsentLogEvent> events;
    bool folding = true;
    for (uint64_t position : Positions(logs_.consent)) {
      const KeptRecord& r = *logs_.consent.At(position);
      const std::string type = ShortType(r.event_type);
      consentsvc::ConsentLogEvent event{r.position, r.stream_version, r.event_type,
                                        r.payload, r.recorded_unix_micros};
      if (folding) {
        if (absl::Status s = consentsvc::Evolve(facts, event); !s.ok()) {
          Add(Kind::kMismatch, Service::kConsent, position,
              absl::StrCat("the case's consent stream does not fold: ", s.message()));
          folding = false;
        }
      }
      events.push_back(event);
      if (type == "ContactDecisionMade") {
        consent_v1::ContactDecisionMade d;
        Parse(r, &d);
        TimelineEntry& e =
            Entry(TimelineEntry::Kind::kDecision, Service::kConsent, r,
                  absl::StrCat("decision ", d.decision_id(), ": ", KindOf(d.kind()),
                               " with ", d.victim_id(), " for ", d.facilitator_id(),
                               " → ", consent_v1::Outcome_Name(d.outcome()), " (",
                               d.policy_version(), ")"));
        e.decision_id = d.decision_id();
        e.outcome = consent_v1::Outcome_Name(d.outcome());
        CheckConsulted(d, position);
      } else if (type == "ConsentWithdrawn") {
        consent_v1::ConsentWithdrawn w;
        Parse(r, &w);
        Undo undo{Service::kConsent,  position, r.recorded_unix_micros, "", "",
                  w.participant_id(), {},       w.all_scopes()};
        std::vector<std::string> names;
        for (int s : w.scopes()) {
          undo.scopes.push_back(static_cast<consent_v1::ConsentScope>(s));
          names.push_back(consent_v1::ConsentScope_Name(s));
        }
        undo.what =
            absl::StrCat("the withdrawal by ", w.participant_id(), " of ",
                         w.all_scopes() ? "every scope" : absl::StrJoin(names, ", "));
        Entry(TimelineEntry::Kind::kUndo, Service::kConsent, r,
              absl::StrCat(w.participant_id(), " withdrew ",
                           w.all_scopes() ? "all" : absl::StrJoin(names, ", ")));
        consent_undos_.push_back(std::move(undo));
      } else if (type == "ConsentRecorded") {
        consent_v1::ConsentRecorded c;
        Parse(r, &c);
        Entry(TimelineEntry::Kind::kFact, Service::kConsent, r,
              absl::StrCat(c.participant_id(), " ",
                           consent_v1::ConsentAnswer_Name(c.answer()), " ",
                           consent_v1::ConsentScope_Name(c.scope())));
      } else if (type == "CaseEventObserved") {
        consent_v1::CaseEventObserved o;
        Parse(r, &o);
        Entry(TimelineEntry::Kind::kFact, Service::kConsent, r,
              absl::StrCat("observed case #", o.case_position(), " ",
                           ShortType(o.case_event_type())))
            .mirror = true;
        CheckObserved(o, position);
      }
    }
    // Each decision re-run by its own rule on the facts before it.
    for (const consentsvc::DecisionRecord& recorded : facts.decisions) {
      if (recorded.stream_version == 0 || recorded.stream_version > events.size() + 1)
        continue;
      absl::StatusOr<consentsvc::Explanation> explained = consentsvc::ExplainDecision(
          recorded, absl::MakeConstSpan(events).subspan(0, recorded.stream_version - 1));
      const std::string id = recorded.decision.decision_id();
      if (!explained.ok()) {
        Add(Kind::kMismatch, Service::kConsent, recorded.position,
            absl::StrCat("decision ", id,
                         " cannot be re-run: ", explained.status().message()));
        continue;
      }
      if (!explained->same_outcome) {
        Add(Kind::kMismatch, Service::kConsent, recorded.position,
            absl::StrCat("decision ", id, " was ",
                         consent_v1::Outcome_Name(recorded.decision.outcome()), ", but ",
                         recorded.decision.policy_version(),
                         " on the facts before it gives ",
                         consent_v1::Outcome_Name(explained->recomputed.outcome())));
      } else if (!explained->same_reasons || !explained->same_consulted) {
        Add(Kind::kMismatch, Service::kConsent, recorded.position,
            absl::StrCat("decision ", id,
                         ": the re-run gives the same outcome but other ",
                         !explained->same_reasons ? "reasons" : "consulted facts"));
      } else {
        ++audit_.reruns_matching;
      }
    }
  }

  // The case-log record the consent service says it observed is in the case
  // log at that position, of that type, with that hash.
  void CheckObserved(const consent_v1::CaseEventObserved& o, uint64_t position) {
    if (logs_.case_log.verification.has_value() &&
        o.case_position() >= logs_.case_log.verification->position) {
      return;  // past where the case log stopped verifying: said already
    }
    const KeptRecord* c = logs_.case_log.At(o.case_position());
    if (c == nullptr) {
      Add(Kind::kMismatch, Service::kConsent, position,
          absl::StrCat("observes case-log position ", o.case_position(), " (",
                       o.case_event_type(), "), which is not an event of case ", case_id_,
                       " in the case log"));
    } else if (c->event_type != o.case_event_type() || c->hash != o.case_record_hash()) {
      Add(Kind::kMismatch, Service::kConsent, position,
          absl::StrCat("observes case-log position ", o.case_position(), " as ",
                       o.case_event_type(), ", but the case log holds ",
                       c->event_type == o.case_event_type()
                           ? "other bytes there (its hash differs)"
                           : absl::StrCat("a ", c->event_type, " there")));
    }
  }

  // An upstream fact a follower recorded is in its log at that position, of
  // that type.
  void CheckUpstream(consent_v1::FactSource source, uint64_t upstream_position,
                     const std::string& event_type, Service log, uint64_t position) {
    const LogRecords* upstream = source == consent_v1::CASE_LOG      ? &logs_.case_log
                                 : source == consent_v1::CONSENT_LOG ? &logs_.consent
                                 : source == consent_v1::SCHEDULING_LOG
                                     ? &logs_.scheduling
                                     : nullptr;
    if (upstream == nullptr) return;
    if (upstream->verification.has_value() &&
        upstream_position >= upstream->verification->position) {
      return;  // past where that log stopped verifying: said already
    }
    const KeptRecord* r = upstream->At(upstream_position);
    if (r == nullptr || r->event_type != event_type) {
      Add(Kind::kMismatch, log, position,
          absl::StrCat("records ", event_type, " at ", Name(upstream->service),
                       "-log position ", upstream_position, ", which ",
                       r == nullptr ? absl::StrCat("is not an event of case ", case_id_)
                                    : absl::StrCat("is a ", r->event_type)));
    }
  }

  // Every fact a decision consulted is where it says, of the type it says.
  void CheckConsulted(const consent_v1::ContactDecisionMade& d, uint64_t position) {
    for (const consent_v1::ConsultedFact& f : d.consulted()) {
      const LogRecords* log = f.source() == consent_v1::CASE_LOG      ? &logs_.case_log
                              : f.source() == consent_v1::CONSENT_LOG ? &logs_.consent
                                                                      : nullptr;
      if (log == nullptr) continue;
      const KeptRecord* r = log->At(f.position());
      if (r == nullptr || r->event_type != f.event_type()) {
        Add(Kind::kMismatch, Service::kConsent, position,
            absl::StrCat("decision ", d.decision_id(), " cites ", f.event_type(), " at ",
                         f.source() == consent_v1::CASE_LOG ? "case" : "consent",
                         "-log position ", f.position(), ", which ",
                         r == nullptr ? "is not an event of this case"
                                      : absl::StrCat("is a ", r->event_type)));
      }
    }
  }

  void ReadContacts(const LogRecords& log) {
    PayloadDecoder decoder;
    // booking id → (kind, victims), for BookingReleased.
    std::map<std::string, std::pair<common_v1::ContactKind, std::set<std::string>>>
        bookings;
    for (uint64_t position : Positions(log)) {
      const KeptRecord& r = *log.At(position);
      const std::string type = ShortType(r.event_type);
      Contact c;
      c.log = log.service;
      c.record = &r;
      bool contact = true;
      if (r.event_type == "mend.conference.v1.LetterOffered") {
        conference_v1::LetterOffered e;
        Parse(r, &e);
        c.kind = common_v1::APPROACH_VICTIM;
        c.victims = {e.victim_id()};
        c.facilitator_id = e.offered_by();
        TakeApproval(e.approval(), e.handled(), &c);
        c.summary = absl::StrCat("letter ", e.letter_id(), " v", e.version(),
                                 " offered to ", e.victim_id());
      } else if (r.event_type == "mend.conference.v1.LetterDelivered") {
        conference_v1::LetterDelivered e;
        Parse(r, &e);
        c.kind = common_v1::LETTER_DELIVERY;
        c.victims = {e.victim_id()};
        c.facilitator_id = e.delivered_by();
        TakeApproval(e.approval(), e.handled(), &c);
        c.summary = absl::StrCat("letter ", e.letter_id(), " v", e.version(),
                                 " delivered to ", e.victim_id());
      } else if (r.event_type == "mend.conference.v1.ShuttleMessageCarried") {
        conference_v1::ShuttleMessageCarried e;
        Parse(r, &e);
        c.kind = common_v1::SHUTTLE_MESSAGE;
        c.victims = {e.from_participant_id(), e.to_participant_id()};
        c.facilitator_id = e.carried_by();
        TakeApproval(e.approval(), e.handled(), &c);
        c.summary = absl::StrCat("message ", e.message_id(), " carried from ",
                                 e.from_participant_id(), " to ", e.to_participant_id());
      } else if (r.event_type == "mend.conference.v1.ConferenceStarted") {
        conference_v1::ConferenceStarted e;
        Parse(r, &e);
        c.kind = e.kind();
        c.facilitator_id = e.started_by();
        TakeApproval(e.approval(), e.handled(), &c);
        c.summary = absl::StrCat("conference ", e.booking_id(), " started (",
                                 KindOf(e.kind()), ")");
      } else if (r.event_type == "mend.conference.v1.VictimInformed") {
        conference_v1::VictimInformed e;
        Parse(r, &e);
        c.kind = common_v1::APPROACH_VICTIM;
        c.victims = {e.victim_id()};
        c.facilitator_id = e.informed_by();
        TakeApproval(e.approval(), e.handled(), &c);
        c.summary = absl::StrCat(e.victim_id(), " informed that agreement ",
                                 e.agreement_id(), " is completed");
      } else if (r.event_type == "mend.scheduling.v1.PreparationMeetingBooked") {
        scheduling_v1::PreparationMeetingBooked e;
        Parse(r, &e);
        contact = e.has_approval();
        c.kind = common_v1::APPROACH_VICTIM;
        c.victims = {e.participant().participant_id()};
        TakeApproval(e.approval(), e.handled(), &c);
        if (contact) bookings[e.booking_id()] = {c.kind, c.victims};
        c.summary = absl::StrCat("preparation meeting ", e.booking_id(), " booked with ",
                                 e.participant().participant_id());
      } else if (r.event_type == "mend.scheduling.v1.ConferenceBooked") {
        scheduling_v1::ConferenceBooked e;
        Parse(r, &e);
        c.kind = KindOfFormat(e.format());
        for (const scheduling_v1::Attendee& a : e.attendees()) {
          if (IsVictimRole(a.role())) c.victims.insert(a.participant_id());
        }
        contact = e.has_approval() || !c.victims.empty();
        TakeApproval(e.approval(), e.handled(), &c);
        bookings[e.booking_id()] = {c.kind, c.victims};
        c.summary = absl::StrCat("conference ", e.booking_id(), " booked (",
                                 scheduling_v1::ConferenceFormat_Name(e.format()), ")");
      } else if (r.event_type == "mend.scheduling.v1.BookingReleased") {
        scheduling_v1::BookingReleased e;
        Parse(r, &e);
        auto it = bookings.find(e.booking_id());
        contact = it != bookings.end();
        if (contact) {
          c.kind = it->second.first;
          c.victims = it->second.second;
        }
        TakeApproval(e.approval(), e.handled(), &c);
        c.summary =
            absl::StrCat("booking ", e.booking_id(), " released after the resume");
      } else if (type == "UpstreamFactRecorded") {
        scheduling_v1::UpstreamFactRecorded u;  // conference's has the same fields 1-5
        Parse(r, &u);
        CheckUpstream(u.source(), u.position(), u.event_type(), log.service, position);
        const std::string source = u.source() == consent_v1::CASE_LOG      ? "case"
                                   : u.source() == consent_v1::CONSENT_LOG ? "consent"
                                   : u.source() == consent_v1::SCHEDULING_LOG
                                       ? "scheduling"
                                       : "?";
        Entry(TimelineEntry::Kind::kFact, log.service, r,
              absl::StrCat("observed ", source, " #", u.position(), " ",
                           ShortType(u.event_type())))
            .mirror = true;
        continue;
      } else {
        contact = false;
        // An event of a kind this audit does not know that carries an
        // approval is a contact it cannot judge: said, never skipped.
        absl::StatusOr<const google::protobuf::Message*> m =
            decoder.Decode(r.event_type, r.payload);
        if (m.ok()) {
          const google::protobuf::FieldDescriptor* f =
              (*m)->GetDescriptor()->FindFieldByName("approval");
          if (f != nullptr &&
              f->type() == google::protobuf::FieldDescriptor::TYPE_MESSAGE &&
              !f->is_repeated() && (*m)->GetReflection()->HasField(**m, f)) {
            Add(Kind::kViolation, log.service, position,
                absl::StrCat("a contact of a type this audit does not know (",
                             r.event_type, "): update mend-audit to judge it"));
          }
        }
        Entry(TimelineEntry::Kind::kFact, log.service, r, type);
        continue;
      }
      if (!contact) {
        Entry(TimelineEntry::Kind::kFact, log.service, r, c.summary);
        continue;
      }
      TimelineEntry& e = Entry(TimelineEntry::Kind::kContact, log.service, r, c.summary);
      e.decision_id = c.decision_id;
      e.decision_position = c.consent_position;
      contacts_.push_back(std::move(c));
    }
  }

  // Where a decision is, if it is in the consent log.
  const KeptRecord* FindDecision(const std::string& decision_id, uint64_t cited_position,
                                 consent_v1::ContactDecisionMade* decision) const {
    const KeptRecord* at = logs_.consent.At(cited_position);
    if (at != nullptr && at->event_type == kDecisionType && Parse(*at, decision) &&
        decision->decision_id() == decision_id) {
      return at;
    }
    for (const auto& [position, r] : logs_.consent.by_position) {
      if (r.event_type == kDecisionType && Parse(r, decision) &&
          decision->decision_id() == decision_id) {
        return &r;
      }
    }
    return nullptr;
  }

  void JudgeContact(const Contact& c) {
    const KeptRecord& r = *c.record;
    auto violation = [&](std::string problem) {
      Add(Kind::kViolation, c.log, r.position,
          absl::StrCat(ShortType(r.event_type), ": ", problem));
    };
    if (c.decision_id.empty()) {
      violation("rests on no contact decision (no approval recorded)");
      return;
    }
    consent_v1::ContactDecisionMade d;
    const KeptRecord* at = FindDecision(c.decision_id, c.consent_position, &d);
    if (at == nullptr) {
      violation(absl::StrCat("rests on decision ", c.decision_id,
                             ", which is not in the consent log"));
      return;
    }
    if (at->position != c.consent_position) {
      violation(absl::StrCat("cites decision ", c.decision_id,
                             " at consent-log position ", c.consent_position,
                             ", but it is at ", at->position));
    }
    if (d.outcome() != consent_v1::APPROVED) {
      violation(absl::StrCat("rests on decision ", c.decision_id, ", which was ",
                             consent_v1::Outcome_Name(d.outcome())));
    }
    if (d.case_id() != case_id_) {
      violation(absl::StrCat("rests on decision ", c.decision_id, ", which is for case ",
                             d.case_id()));
    }
    if (d.kind() != c.kind) {
      violation(absl::StrCat("is ", KindOf(c.kind), " but decision ", c.decision_id,
                             " is for ", KindOf(d.kind())));
    }
    if (!c.victims.empty() && !c.victims.contains(d.victim_id())) {
      violation(absl::StrCat("is with ", absl::StrJoin(c.victims, " and "),
                             " but decision ", c.decision_id, " is for victim ",
                             d.victim_id()));
    }
    if (!c.facilitator_id.empty() && c.facilitator_id != d.facilitator_id()) {
      violation(absl::StrCat("was made by ", c.facilitator_id, " but decision ",
                             c.decision_id, " is for facilitator ", d.facilitator_id()));
    }
    if (at->recorded_unix_micros > r.recorded_unix_micros) {
      violation(absl::StrCat("was recorded at ", Time(r.recorded_unix_micros),
                             ", before decision ", c.decision_id, " (",
                             Time(at->recorded_unix_micros), ")"));
    }
    // Undone since the decision?
    const std::set<consent_v1::ConsentScope> relied = {
        consent_v1::PARTICIPATE, consentsvc::ScopeForKind(d.kind())};
    auto judge = [&](const Undo& u, uint64_t handled) {
      if (u.position <= handled) {
        violation(absl::StrCat("was recorded after ", u.what, " (", Name(u.log),
                               "-log position ", u.position, ") undid decision ",
                               c.decision_id, ", and the ", Name(c.log),
                               " service had handled it (its ", Name(u.log),
                               "-log position was ", handled, ")"));
      } else if (u.recorded_unix_micros <= r.recorded_unix_micros) {
        Add(Kind::kRace, c.log, r.position,
            absl::StrCat(ShortType(r.event_type), ": ", u.what, " (", Name(u.log),
                         "-log position ", u.position, ", recorded ",
                         Time(u.recorded_unix_micros), ") undid decision ", c.decision_id,
                         " before this contact was recorded (",
                         Time(r.recorded_unix_micros), "), but the ", Name(c.log),
                         " service had not handled it yet (its ", Name(u.log),
                         "-log position was ", handled, "): a race"));
      }
    };
    for (const Undo& u : case_undos_) {
      if (u.position <= d.case_position()) continue;  // known to the decision
      if (!u.facilitator_id.empty() && u.facilitator_id != d.facilitator_id()) continue;
      if (!u.participant_id.empty() && u.participant_id != d.victim_id() &&
          u.participant_id != d.service_user_id()) {
        continue;
      }
      judge(u, c.handled.case_position());
    }
    for (const Undo& u : consent_undos_) {
      if (u.position <= at->position) continue;  // before the decision
      if (u.participant_id != d.victim_id() && u.participant_id != d.service_user_id()) {
        continue;
      }
      const bool relies = u.all_scopes || std::any_of(u.scopes.begin(), u.scopes.end(),
                                                      [&](consent_v1::ConsentScope s) {
                                                        return relied.contains(s);
                                                      });
      if (!relies) continue;
      judge(u, c.handled.consent_position());
    }
  }

  void Finish() {
    std::stable_sort(audit_.timeline.begin(), audit_.timeline.end(),
                     [](const TimelineEntry& a, const TimelineEntry& b) {
                       if (a.recorded_unix_micros != b.recorded_unix_micros) {
                         return a.recorded_unix_micros < b.recorded_unix_micros;
                       }
                       if (a.log != b.log) return a.log < b.log;
                       return a.position < b.position;
                     });
    for (size_t i = 0; i < audit_.findings.size(); ++i) {
      const DecisionFinding& f = audit_.findings[i];
      for (TimelineEntry& e : audit_.timeline) {
        if (e.log == f.log && e.position == f.position) e.findings.push_back(i);
      }
    }
    for (const TimelineEntry& e : audit_.timeline) {
      if (e.kind == TimelineEntry::Kind::kDecision) {
        ++audit_.decisions;
        if (e.outcome == "APPROVED") ++audit_.approved;
        if (e.outcome == "REFUSED") ++audit_.refused;
      } else if (e.kind == TimelineEntry::Kind::kContact) {
        ++audit_.contacts;
      }
    }
  }

  const AuditLogs& logs_;
  const std::string case_id_;
  CaseAudit audit_;
  std::vector<Undo> case_undos_;
  std::vector<Undo> consent_undos_;
  std::vector<Contact> contacts_;
};

}  // namespace

const LogRecords& AuditLogs::Of(Service service) const {
  switch (service) {
    case Service::kConsent:
      return consent;
    case Service::kScheduling:
      return scheduling;
    case Service::kConference:
      return conference;
    case Service::kCase:
    case Service::kUnknown:
      break;
  }
  return case_log;
}

std::string_view KindName(DecisionFinding::Kind kind) {
  switch (kind) {
    case Kind::kViolation:
      return "VIOLATION";
    case Kind::kRace:
      return "RACE";
    case Kind::kMismatch:
      return "MISMATCH";
  }
  return "";
}

bool CaseAudit::violations() const {
  return std::any_of(findings.begin(), findings.end(),
                     [](const DecisionFinding& f) { return f.kind != Kind::kRace; });
}
bool CaseAudit::races() const {
  return std::any_of(findings.begin(), findings.end(),
                     [](const DecisionFinding& f) { return f.kind == Kind::kRace; });
}

std::string ShortType(std::string_view event_type) {
  const size_t dot = event_type.rfind('.');
  return std::string(dot == std::string_view::npos ? event_type
                                                   : event_type.substr(dot + 1));
}

absl::StatusOr<AuditLogs> LoadAuditLogs(const AuditSources& sources,
                                        const std::optional<std::string>& case_id) {
  AuditLogs logs;
  MEND_ASSIGN_OR_RETURN(
      logs.case_log, LoadLog(sources.case_log, Service::kCase, sources.connect, case_id));
  MEND_ASSIGN_OR_RETURN(logs.consent, LoadLog(sources.consent, Service::kConsent,
                                              sources.connect, case_id));
  MEND_ASSIGN_OR_RETURN(logs.scheduling, LoadLog(sources.scheduling, Service::kScheduling,
                                                 sources.connect, case_id));
  MEND_ASSIGN_OR_RETURN(logs.conference, LoadLog(sources.conference, Service::kConference,
                                                 sources.connect, case_id));
  return logs;
}

std::vector<std::string> CaseIds(const AuditLogs& logs) {
  std::vector<std::pair<uint64_t, std::string>> first;
  for (const auto& [id, positions] : logs.case_log.by_case) {
    if (!positions.empty()) first.emplace_back(positions.front(), id);
  }
  std::sort(first.begin(), first.end());
  std::vector<std::string> ids;
  for (auto& [position, id] : first) ids.push_back(std::move(id));
  return ids;
}

CaseAudit AuditCase(const AuditLogs& logs, const std::string& case_id) {
  return CaseAuditor(logs, case_id).Run();
}

}  // namespace mend::audit
