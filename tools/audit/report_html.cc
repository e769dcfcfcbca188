#include "tools/audit/report_html.h"

#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace mend::audit {
namespace {

constexpr Service kLanes[] = {Service::kCase, Service::kConsent, Service::kScheduling,
                              Service::kConference};

constexpr char kStyle[] = R"css(
:root { --ok: #1b7f3b; --bad: #b3261e; --race: #a15c00; --ink: #1d1d1f; --mute: #6b6b70;
        --line: #d9d9de; --decision: #e8f0fe; --contact: #fff4e0; --undo: #fde8e7; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color: var(--ink); margin: 24px; max-width: 1500px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px; }
.sub { color: var(--mute); margin-bottom: 16px; }
.verdict { padding: 12px 16px; border-radius: 8px; font-weight: 600; margin: 12px 0; }
.verdict.ok { background: #e6f4ea; color: var(--ok); }
.verdict.bad { background: #fce8e6; color: var(--bad); }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: 6px 8px;
         border-bottom: 1px solid var(--line); }
th { font-size: 12px; text-transform: uppercase; letter-spacing: .04em; color: var(--mute); }
td.good { color: var(--ok); font-weight: 600; } td.bad { color: var(--bad); font-weight: 600; }
code { font: 12px ui-monospace, SFMono-Regular, Menlo, monospace; }
.findings li { margin: 4px 0; }
.kind-VIOLATION, .kind-MISMATCH { color: var(--bad); font-weight: 700; }
.kind-RACE { color: var(--race); font-weight: 700; }
.timeline td.time { white-space: nowrap; color: var(--mute); width: 9em; }
.timeline td.lane { width: 22%; }
.ev { border-radius: 6px; padding: 6px 8px; border: 1px solid var(--line); }
.ev .type { font-weight: 600; } .ev .pos { color: var(--mute); font-size: 12px; }
.ev.decision { background: var(--decision); border-color: #aac4f5; }
.ev.decision.refused { background: #f1f1f4; }
.ev.contact { background: var(--contact); border-color: #f0c27a; }
.ev.undo { background: var(--undo); border-color: #f2b8b5; }
.ev.finding { outline: 3px solid var(--bad); }
.ev.race { outline: 3px solid var(--race); }
.outcome-APPROVED { color: var(--ok); font-weight: 700; }
.outcome-REFUSED { color: var(--bad); font-weight: 700; }
.note { color: var(--bad); font-size: 12px; margin-top: 4px; }
tr.mirror td { padding-top: 1px; padding-bottom: 1px; font-size: 11px; color: var(--mute);
               border-bottom: none; }
.legend span { display: inline-block; margin-right: 14px; }
.legend i { display: inline-block; width: 12px; height: 12px; border-radius: 3px;
            margin-right: 4px; vertical-align: -1px; border: 1px solid var(--line); }
@media print { body { margin: 8mm; } .ev { break-inside: avoid; } }
)css";

std::string Time(int64_t micros, const char* format = "%Y-%m-%d %H:%M:%E3S") {
  return absl::FormatTime(format, absl::FromUnixMicros(micros), absl::UTCTimeZone());
}

std::string Hex(std::string_view bytes) {
  return absl::BytesToHexString(std::string(bytes));
}

std::string Name(Service s) { return std::string(ServiceName(s)); }

std::string EntryAnchor(Service log, uint64_t position) {
  return absl::StrCat("e-", Name(log), "-", position);
}

std::string DecisionAnchor(std::string_view decision_id) {
  // Ids are [A-Za-z0-9._-]; anything else is dropped from the anchor only.
  std::string out = "d-";
  for (char c : decision_id) {
    if (absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' ||
        c == '.') {
      out.push_back(c);
    }
  }
  return out;
}

void VerificationTable(const AuditLogs& logs, std::string& html) {
  html +=
      "<h2>What was verified</h2>\n<table class=\"verification\"><tr><th>Log</th>"
      "<th>From</th><th>Records in the log</th><th>Chain, positions, streams, "
      "payloads</th>"
      "<th>Newest signed head</th><th>Tree root</th></tr>\n";
  for (Service s : kLanes) {
    const LogRecords& log = logs.Of(s);
    absl::StrAppend(&html, "<tr data-log=\"", Name(s), "\"><td>", Name(s),
                    "</td><td><code>", HtmlEscape(log.spec), "</code></td><td>", log.head,
                    "</td>");
    if (log.verification.has_value()) {
      absl::StrAppend(&html, "<td class=\"bad\">broken at position ",
                      log.verification->position, ": ",
                      HtmlEscape(log.verification->problem), "</td>");
    } else {
      html += "<td class=\"good\">good</td>";
    }
    if (!log.newest_head.has_value()) {
      html += "<td>none signed yet</td>";
    } else {
      absl::StrAppend(
          &html, "<td class=\"", log.newest_head_matches ? "good" : "bad", "\">",
          log.newest_head->tree_size(), " records, signed ",
          Time(log.newest_head->timestamp_unix_micros(), "%Y-%m-%d %H:%M:%SZ"),
          log.newest_head_matches ? ": the records' root matches"
                                  : ": the records' root does NOT match",
          "</td>");
    }
    absl::StrAppend(&html, "<td><code>", Hex(log.root).substr(0, 16),
                    "…</code></td></tr>\n");
  }
  html +=
      "</table>\n<p class=\"sub\">Signatures are checked by <code>mend-audit verify "
      "--public_key</code>; this page shows what the records themselves prove.</p>\n";
}

void Findings(const CaseAudit& audit, std::string& html) {
  absl::StrAppend(&html, "<h2>Findings (", audit.findings.size(), ")</h2>\n");
  if (audit.findings.empty()) {
    html +=
        "<p>None: every contact rests on an approval given at that moment, and every "
        "decision re-runs to itself.</p>\n";
    return;
  }
  html += "<ol class=\"findings\">\n";
  for (const DecisionFinding& f : audit.findings) {
    const std::string kind(KindName(f.kind));
    absl::StrAppend(&html, "<li class=\"finding\" data-kind=\"", kind,
                    "\"><span class=\"kind-", kind, "\">", kind, "</span> <a href=\"#",
                    EntryAnchor(f.log, f.position), "\">", Name(f.log), " #", f.position,
                    "</a>: ", HtmlEscape(f.problem), "</li>\n");
  }
  html += "</ol>\n";
}

void Timeline(const CaseAudit& audit, std::string& html) {
  html +=
      "<h2>Timeline</h2>\n<p class=\"legend\"><span><i style=\"background:#e8f0fe\">"
      "</i>contact decision</span><span><i style=\"background:#fff4e0\"></i>victim "
      "contact (linked to its decision)</span><span><i style=\"background:#fde8e7\">"
      "</i>undoes earlier decisions</span><span><i style=\"outline:3px solid #b3261e\">"
      "</i>finding</span></p>\n<table class=\"timeline\"><tr><th>Recorded (UTC)</th>";
  for (Service s : kLanes) absl::StrAppend(&html, "<th>", Name(s), "</th>");
  html += "</tr>\n";
  std::set<std::string> decision_anchors;
  for (const TimelineEntry& e : audit.timeline) {
    std::string classes = "ev";
    switch (e.kind) {
      case TimelineEntry::Kind::kDecision:
        classes += " decision";
        if (e.outcome == "REFUSED") classes += " refused";
        break;
      case TimelineEntry::Kind::kContact:
        classes += " contact";
        break;
      case TimelineEntry::Kind::kUndo:
        classes += " undo";
        break;
      case TimelineEntry::Kind::kFact:
        break;
    }
    bool race_only = !e.findings.empty();
    for (size_t i : e.findings) {
      if (audit.findings[i].kind != DecisionFinding::Kind::kRace) race_only = false;
    }
    if (!e.findings.empty()) classes += race_only ? " race" : " finding";
    if (e.mirror && e.findings.empty()) {
      // A copy of an upstream fact: one small line in its lane.
      absl::StrAppend(&html, "<tr id=\"", EntryAnchor(e.log, e.position),
                      "\" class=\"mirror\"><td class=\"time\">",
                      Time(e.recorded_unix_micros), "</td>");
      for (Service lane : kLanes) {
        absl::StrAppend(&html, "<td class=\"lane\">",
                        lane == e.log
                            ? absl::StrCat("#", e.position, " ", HtmlEscape(e.summary))
                            : "",
                        "</td>");
      }
      html += "</tr>\n";
      continue;
    }
    absl::StrAppend(&html, "<tr id=\"", EntryAnchor(e.log, e.position),
                    "\"><td class=\"time\">", Time(e.recorded_unix_micros), "</td>");
    for (Service lane : kLanes) {
      if (lane != e.log) {
        html += "<td class=\"lane\"></td>";
        continue;
      }
      std::string id_attr;
      if (e.kind == TimelineEntry::Kind::kDecision &&
          decision_anchors.insert(e.decision_id).second) {
        id_attr = absl::StrCat(" id=\"", DecisionAnchor(e.decision_id), "\"");
      }
      absl::StrAppend(&html, "<td class=\"lane\"><div class=\"", classes, "\"", id_attr,
                      " data-log=\"", Name(e.log), "\" data-position=\"", e.position,
                      "\"><div class=\"type\">", HtmlEscape(e.event_type),
                      " <span class=\"pos\">#", e.position, "</span></div><div>",
                      e.summary == e.event_type ? "" : HtmlEscape(e.summary), "</div>");
      if (e.kind == TimelineEntry::Kind::kDecision) {
        absl::StrAppend(&html, "<div class=\"outcome-", HtmlEscape(e.outcome), "\">",
                        HtmlEscape(e.outcome), "</div>");
      }
      if (e.kind == TimelineEntry::Kind::kContact) {
        absl::StrAppend(&html, "<div>rests on <a class=\"decision-link\" href=\"#",
                        DecisionAnchor(e.decision_id), "\">decision ",
                        HtmlEscape(e.decision_id), "</a> (consent #", e.decision_position,
                        ")</div>");
      }
      for (size_t i : e.findings) {
        const DecisionFinding& f = audit.findings[i];
        absl::StrAppend(&html, "<div class=\"note\"><b>", std::string(KindName(f.kind)),
                        "</b>: ", HtmlEscape(f.problem), "</div>");
      }
      html += "</div></td>";
    }
    html += "</tr>\n";
  }
  html += "</table>\n";
}

}  // namespace

std::string HtmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

std::string RenderReport(const AuditLogs& logs, const CaseAudit& audit,
                         absl::Time generated) {
  std::string html;
  const bool clean = !audit.violations() && !audit.races() &&
                     !logs.case_log.verification && !logs.consent.verification &&
                     !logs.scheduling.verification && !logs.conference.verification;
  absl::StrAppend(
      &html,
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width\">"
      "<title>mend audit: case ",
      HtmlEscape(audit.case_id), "</title><style>", kStyle,
      "</style></head>\n<body>\n<h1>Audit of case <code>", HtmlEscape(audit.case_id),
      "</code></h1>\n<div class=\"sub\">mend-audit, ",
      absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", generated, absl::UTCTimeZone()), " · ",
      audit.decisions, " contact decision(s) (", audit.approved, " approved, ",
      audit.refused, " refused; ", audit.reruns_matching, " re-run to themselves) · ",
      audit.contacts, " victim contact(s)</div>\n");
  absl::StrAppend(
      &html, "<div class=\"verdict ", clean ? "ok" : "bad", "\" id=\"verdict\">",
      clean ? "Complete: every victim contact rests on an approval given at that "
              "moment, and the logs verify."
            : "Not clean: see the findings below.",
      "</div>\n");
  VerificationTable(logs, html);
  Findings(audit, html);
  Timeline(audit, html);
  html += "</body></html>\n";
  return html;
}

}  // namespace mend::audit
