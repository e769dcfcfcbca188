// Reading rendered manifests: YAML streams, pod templates, containers and
// the environment a container gets from its ConfigMaps.
import fs from "node:fs";
import {yaml} from "./deps.mjs";

// Every object of a YAML stream (empty documents dropped).
export function loadObjects(file) {
  return yaml.loadAll(fs.readFileSync(file, "utf8")).filter((o) => o != null);
}

export function loadYaml(file) {
  return yaml.load(fs.readFileSync(file, "utf8"));
}

export function ref(o) {
  return `${o.kind}/${o.metadata?.name}`;
}

// The pod templates of workload objects: {owner, kind, spec, labels,
// annotations, longRunning}. Jobs and CronJobs run to completion (no probes).
export function podTemplates(objects) {
  const out = [];
  for (const o of objects) {
    let template = null;
    let longRunning = true;
    switch (o.kind) {
      case "StatefulSet":
      case "Deployment":
      case "DaemonSet":
      case "ReplicaSet":
        template = o.spec?.template;
        break;
      case "Job":
        template = o.spec?.template;
        longRunning = false;
        break;
      case "CronJob":
        template = o.spec?.jobTemplate?.spec?.template;
        longRunning = false;
        break;
      case "Pod":
        template = {metadata: o.metadata, spec: o.spec};
        break;
      default:
        continue;
    }
    out.push({
      owner: o,
      name: ref(o),
      kind: o.kind,
      spec: template?.spec ?? {},
      labels: template?.metadata?.labels ?? {},
      annotations: template?.metadata?.annotations ?? {},
      longRunning,
    });
  }
  return out;
}

// Init containers then containers, each with `init` set.
export function containersOf(podSpec) {
  return [
    ...(podSpec.initContainers ?? []).map((c) => ({...c, init: true})),
    ...(podSpec.containers ?? []).map((c) => ({...c, init: false})),
  ];
}

// The variables a container sees, as the kubelet builds them: envFrom
// ConfigMaps in order, then env (later wins). Values from Secrets or the
// downward API are not known offline and are left out. `missing` lists
// ConfigMaps that are referenced but not in `objects`.
export function environmentOf(container, objects) {
  const configMaps = new Map(
      objects.filter((o) => o.kind === "ConfigMap").map((o) => [o.metadata.name, o]));
  const env = new Map();
  const missing = [];
  for (const source of container.envFrom ?? []) {
    const name = source.configMapRef?.name;
    if (name === undefined) continue;
    const cm = configMaps.get(name);
    if (cm === undefined) {
      if (!source.configMapRef.optional) missing.push(name);
      continue;
    }
    for (const [k, v] of Object.entries(cm.data ?? {})) env.set((source.prefix ?? "") + k, v);
  }
  for (const e of container.env ?? []) {
    if (e.value !== undefined) env.set(e.name, e.value);
  }
  return {env, missing};
}

// Whether `selector` (matchLabels / matchExpressions) selects `labels`. An
// empty selector selects everything.
export function selects(selector, labels) {
  if (selector == null) return false;
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) {
    if (labels[k] !== v) return false;
  }
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(labels, e.key);
    switch (e.operator) {
      case "In":
        if (!has || !e.values.includes(labels[e.key])) return false;
        break;
      case "NotIn":
        if (has && e.values.includes(labels[e.key])) return false;
        break;
      case "Exists":
        if (!has) return false;
        break;
      case "DoesNotExist":
        if (has) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

// An absl duration ("20s", "1m30s", "1.5h", "250ms") in seconds; NaN if it
// does not parse.
export function durationSeconds(text) {
  const units = {ns: 1e-9, us: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600};
  if (text === "0") return 0;
  const re = /(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)/y;
  let total = 0;
  let pos = 0;
  while (pos < text.length) {
    re.lastIndex = pos;
    const m = re.exec(text);
    if (m === null) return NaN;
    total += Number(m[1]) * units[m[2]];
    pos = re.lastIndex;
  }
  return pos === 0 ? NaN : total;
}

// A Kubernetes quantity ("250m", "2", "512Mi", "1G") as a number.
export function quantity(q) {
  if (typeof q === "number") return q;
  const m = /^(\d+(?:\.\d+)?)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/.exec(String(q));
  if (m === null) return NaN;
  const f = {
    m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12,
    Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40,
  }[m[2]] ?? 1;
  return Number(m[1]) * f;
}

// The port of a "host:port" listen address, or NaN.
export function listenPort(address) {
  const m = /:(\d+)$/.exec(address ?? "");
  return m === null ? NaN : Number(m[1]);
}
