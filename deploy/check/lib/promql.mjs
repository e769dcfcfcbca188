// The metric names a PromQL expression selects: what is left once strings,
// label matchers, ranges, grouping clauses, functions, aggregations and
// keywords are taken out. Enough for the expressions of mend's alerts and
// dashboard; Grafana's $variables are treated as the values they stand for.
const kAggregations = new Set([
  "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
  "bottomk", "topk", "quantile",
]);
const kKeywords = new Set([
  "and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
  "offset", "bool", "inf", "nan", "atan2",
]);

export function metricNames(expr) {
  let e = expr
      .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
      .replace(/\{[^}]*\}/g, " ")
      .replace(/\[[^\]]*\]/g, " ")
      .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ");
  const names = new Set();
  for (const m of e.matchAll(/(?<![\w.$])[a-zA-Z_:][\w:]*/g)) {
    const word = m[0];
    const rest = e.slice(m.index + word.length);
    if (/^\s*\(/.test(rest)) continue;  // a function or an aggregation
    if (kAggregations.has(word) || kKeywords.has(word)) continue;
    names.add(word);
  }
  return [...names];
}

// The exported families, from services_live.mjs's list ("name type" lines),
// with the series names each renders: a histogram's _bucket, _sum, _count.
export function exportedSeries(text) {
  const series = new Map();  // series name -> family
  for (const line of text.split("\n")) {
    const [name, type] = line.trim().split(/\s+/);
    if (!name) continue;
    series.set(name, name);
    if (type === "histogram" || type === "summary") {
      for (const s of ["_bucket", "_sum", "_count"]) series.set(name + s, name);
    }
  }
  return series;
}
