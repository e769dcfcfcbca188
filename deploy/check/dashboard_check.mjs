// The Grafana dashboard is valid JSON, every panel (rows' panels too) has
// queries, each query and each templating query has an expression, panel ids
// are unique, and every metric an expression selects is one the services
// export (the list services_live.mjs scraped from the running binaries).
//
//   node dashboard_check.mjs --metrics FILE --dashboard FILE [--refuse FILE ...]
// A --refuse file must be refused with the problem named in the
// "_expect" field of its top-level object (or, for a file that is not JSON,
// in its first line "// expect: <substring>").
import fs from "node:fs";
import {expectRefusals, parseArgs} from "./lib/harness.mjs";
import {exportedSeries, metricNames} from "./lib/promql.mjs";

const {flags} = parseArgs(process.argv.slice(2));
const exported = exportedSeries(fs.readFileSync(flags.metrics[0], "utf8"));

function panelsOf(list) {
  return (list ?? []).flatMap((p) => [p, ...panelsOf(p.panels)]);
}

function check(file) {
  const problems = [];
  let dashboard;
  try {
    dashboard = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    return [`${file}: not JSON: ${e.message}`];
  }
  if (typeof dashboard.title !== "string" || !Array.isArray(dashboard.panels)) {
    problems.push(`${file}: no title or panels`);
  }
  const exprs = [];
  const ids = new Set();
  const panels = panelsOf(dashboard.panels);
  for (const p of panels) {
    const name = `panel ${JSON.stringify(p.title)}`;
    if (ids.has(p.id)) problems.push(`${name}: id ${p.id} is used twice`);
    ids.add(p.id);
    if (p.type === "row") continue;
    if (!p.gridPos) problems.push(`${name}: no gridPos`);
    if (!Array.isArray(p.targets) || p.targets.length === 0) {
      problems.push(`${name}: no queries`);
      continue;
    }
    for (const t of p.targets) {
      if (typeof t.expr !== "string" || t.expr.trim() === "") problems.push(`${name}: a query without expr`);
      else exprs.push([name, t.expr]);
    }
  }
  for (const v of dashboard.templating?.list ?? []) {
    if (v.type !== "query") continue;
    const q = typeof v.query === "string" ? v.query : v.query?.query;
    const m = /^label_values\((.*),\s*\w+\)$/.exec(q ?? "");
    if (m === null) problems.push(`variable ${v.name}: not a label_values(...) query`);
    else exprs.push([`variable ${v.name}`, m[1]]);
  }
  for (const [name, expr] of exprs) {
    const metrics = metricNames(expr);
    if (metrics.length === 0) problems.push(`${name}: selects no metric: ${expr}`);
    for (const metric of metrics) {
      if (!exported.has(metric)) problems.push(`${name}: ${metric} is not a metric the services export`);
    }
  }
  if (problems.length === 0) {
    const used = new Set(exprs.flatMap(([, e]) => metricNames(e)).map((m) => exported.get(m)));
    console.log(`ok: ${file}: ${panels.length} panels, ${exprs.length} expressions over ` +
                `${used.size} exported families: ${[...used].sort().join(", ")}`);
  }
  return problems;
}

let failed = 0;
for (const p of check(flags.dashboard[0])) {
  failed++;
  console.log(`FAIL: ${p}`);
}
failed += expectRefusals((flags.refuse ?? []).map((file) => {
  const text = fs.readFileSync(file, "utf8");
  let expect = /^\/\/ expect: (.*)$/m.exec(text)?.[1];
  try {
    expect = JSON.parse(text)._expect ?? expect;
  } catch {}
  return [file, expect, () => check(file)];
}));
console.log(failed === 0 ? "all checks passed" : `${failed} check(s) failed`);
process.exitCode = failed === 0 ? 0 : 1;
