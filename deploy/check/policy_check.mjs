// What every mend workload must have, checked on the rendered manifests:
//
//   every pod: non-root uid/gid 10001 with fsGroup 10001 (so the Secret files
//     are readable by the service's user), seccomp RuntimeDefault, no service
//     account token, no service links (they would add MEND_* variables, which
//     the binaries read as flags), no host namespaces or hostPath;
//   every container (init ones too): requests and limits for cpu and memory
//     (requests <= limits), no privilege escalation, read-only root file
//     system, not privileged, all capabilities dropped and none added;
//   every Secret a pod mounts: mode 0400 (defaultMode and any item's mode);
//     no Secret object in the rendering (they are created by hand, never
//     committed), and each one named in deploy/k8s/README.md with its
//     `kubectl create secret` line;
//   every StatefulSet: one replica; native gRPC startup, readiness and
//     liveness probes on the port of MEND_HEALTH_LISTEN (named "health"),
//     readiness and startup asking for a named service; a startup budget
//     (periodSeconds x failureThreshold) of at least 30 minutes for a long
//     replay; terminationGracePeriodSeconds at least MEND_SHUTDOWN_GRACE + 5
//     s; its volume claim mounted at MEND_DATA_DIR; a headless Service named
//     by serviceName, a client Service and a PodDisruptionBudget selecting
//     it; Prometheus annotations naming the port of MEND_METRICS_LISTEN.
//
//   node policy_check.mjs --readme README.md --rendering prod=FILE ... [--mutations FILE]
import fs from "node:fs";
import {
  containersOf, durationSeconds, environmentOf, listenPort, loadObjects, podTemplates,
  quantity, selects,
} from "./lib/manifests.mjs";
import {parseArgs, runWithMutations, renderingsFrom} from "./lib/harness.mjs";

const {flags} = parseArgs(process.argv.slice(2));
const readme = flags.readme ? fs.readFileSync(flags.readme[0], "utf8") : "";

const kUid = 10001;
const kSecretMode = 0o400;
const kMinStartupSeconds = 30 * 60;
const kDrainMarginSeconds = 5;
const kDefaultShutdownGrace = 10;  // --shutdown_grace's default

function checkPod(pod, objects, problems) {
  const spec = pod.spec;
  const sc = spec.securityContext ?? {};
  const p = (m) => problems.push(`${pod.name}: ${m}`);
  if (sc.runAsNonRoot !== true) p("pod securityContext.runAsNonRoot is not true");
  for (const field of ["runAsUser", "runAsGroup", "fsGroup"]) {
    if (sc[field] !== kUid) p(`pod securityContext.${field} is ${sc[field]}, not ${kUid}`);
  }
  if (spec.automountServiceAccountToken !== false) p("automountServiceAccountToken is not false");
  if (spec.enableServiceLinks !== false) p("enableServiceLinks is not false");
  for (const host of ["hostNetwork", "hostPID", "hostIPC"]) if (spec[host]) p(`${host} is set`);
  for (const v of spec.volumes ?? []) {
    if (v.hostPath) p(`volume ${v.name} is a hostPath`);
    const secrets = [];
    if (v.secret) secrets.push({mode: v.secret.defaultMode, items: v.secret.items ?? []});
    if (v.projected) {
      for (const s of v.projected.sources ?? []) {
        if (s.secret) secrets.push({mode: v.projected.defaultMode, items: s.secret.items ?? []});
      }
    }
    for (const s of secrets) {
      if (s.mode !== kSecretMode) {
        p(`volume ${v.name}: Secret files have mode ${s.mode?.toString(8) ?? "0644 (default)"}, not 0400`);
      }
      for (const item of s.items) {
        if (item.mode !== undefined && item.mode !== kSecretMode) {
          p(`volume ${v.name}: item ${item.path} has mode ${item.mode.toString(8)}, not 0400`);
        }
      }
    }
  }
  const podSeccomp = sc.seccompProfile?.type;
  for (const c of containersOf(spec)) checkContainer(pod, c, podSeccomp, sc, p);
  if (pod.kind === "StatefulSet") checkStatefulSet(pod, objects, p);
}

function checkContainer(pod, c, podSeccomp, podSc, p) {
  const name = `container ${c.name}`;
  const r = c.resources ?? {};
  for (const what of ["cpu", "memory"]) {
    const request = r.requests?.[what];
    const limit = r.limits?.[what];
    if (request === undefined) p(`${name}: no ${what} request`);
    if (limit === undefined) p(`${name}: no ${what} limit`);
    if (request !== undefined && limit !== undefined && quantity(request) > quantity(limit)) {
      p(`${name}: ${what} request ${request} is above its limit ${limit}`);
    }
  }
  const sc = c.securityContext ?? {};
  if (sc.allowPrivilegeEscalation !== false) p(`${name}: allowPrivilegeEscalation is not false`);
  if (sc.readOnlyRootFilesystem !== true) p(`${name}: readOnlyRootFilesystem is not true`);
  if (sc.privileged === true) p(`${name}: privileged`);
  if (!(sc.capabilities?.drop ?? []).includes("ALL")) p(`${name}: capabilities are not all dropped`);
  if ((sc.capabilities?.add ?? []).length > 0) p(`${name}: adds capabilities ${sc.capabilities.add}`);
  if ((sc.runAsNonRoot ?? podSc.runAsNonRoot) !== true) p(`${name}: may run as root`);
  if ((sc.runAsUser ?? podSc.runAsUser) === 0) p(`${name}: runs as uid 0`);
  if ((sc.seccompProfile?.type ?? podSeccomp) !== "RuntimeDefault") {
    p(`${name}: seccomp profile is not RuntimeDefault`);
  }
}

function grpcProbe(probe) {
  return probe?.grpc;
}

function checkStatefulSet(pod, objects, p) {
  const set = pod.owner;
  const spec = pod.spec;
  if (set.spec.replicas !== 1) p(`replicas is ${set.spec.replicas}: one writer per log needs exactly 1`);
  const main = spec.containers ?? [];
  if (main.length !== 1) p(`has ${main.length} containers, not one service`);
  for (const c of main) {
    const name = `container ${c.name}`;
    const {env, missing} = environmentOf(c, objects);
    for (const m of missing) p(`${name}: ConfigMap ${m} is not in the rendering`);
    const healthPort = (c.ports ?? []).find((x) => x.name === "health")?.containerPort;
    const metricsPort = (c.ports ?? []).find((x) => x.name === "metrics")?.containerPort;
    if (healthPort === undefined || listenPort(env.get("MEND_HEALTH_LISTEN")) !== healthPort) {
      p(`${name}: the port named health (${healthPort}) is not the one of MEND_HEALTH_LISTEN ` +
        `(${env.get("MEND_HEALTH_LISTEN")})`);
    }
    for (const kind of ["startupProbe", "readinessProbe", "livenessProbe"]) {
      const probe = c[kind];
      if (probe === undefined) {
        p(`${name}: no ${kind}`);
        continue;
      }
      const grpc = grpcProbe(probe);
      if (grpc === undefined) {
        p(`${name}: ${kind} is not a native gRPC probe`);
        continue;
      }
      if (grpc.port !== healthPort) {
        p(`${name}: ${kind} asks port ${grpc.port}, not the health port ${healthPort} ` +
          "(the kubelet's gRPC probes cannot speak TLS)");
      }
      if (kind !== "livenessProbe" && !grpc.service) {
        p(`${name}: ${kind} names no service (any server on the port would pass)`);
      }
    }
    const startup = c.startupProbe;
    if (startup !== undefined) {
      const budget = (startup.periodSeconds ?? 10) * (startup.failureThreshold ?? 3);
      if (budget < kMinStartupSeconds) {
        p(`${name}: startupProbe allows ${budget}s, less than ${kMinStartupSeconds}s for a long replay`);
      }
    }
    const grace = env.has("MEND_SHUTDOWN_GRACE") ? durationSeconds(env.get("MEND_SHUTDOWN_GRACE"))
                                                  : kDefaultShutdownGrace;
    const termination = spec.terminationGracePeriodSeconds ?? 30;
    if (!(termination >= grace + kDrainMarginSeconds)) {
      p(`${name}: terminationGracePeriodSeconds ${termination} is not at least ` +
        `MEND_SHUTDOWN_GRACE (${grace}s) + ${kDrainMarginSeconds}s`);
    }
    const dataDir = env.get("MEND_DATA_DIR");
    const claims = (set.spec.volumeClaimTemplates ?? []).map((t) => t.metadata.name);
    const dataMount = (c.volumeMounts ?? []).find((m) => m.mountPath === dataDir);
    if (dataDir === undefined) p(`${name}: no MEND_DATA_DIR`);
    else if (dataMount === undefined || !claims.includes(dataMount.name)) {
      p(`${name}: MEND_DATA_DIR ${dataDir} is not a volume claim's mount`);
    }
    const ann = pod.annotations;
    if (ann["prometheus.io/scrape"] !== "true") p("no prometheus.io/scrape: \"true\" annotation");
    if (metricsPort === undefined || ann["prometheus.io/port"] !== String(metricsPort) ||
        listenPort(env.get("MEND_METRICS_LISTEN")) !== metricsPort) {
      p(`prometheus.io/port (${ann["prometheus.io/port"]}), the port named metrics ` +
        `(${metricsPort}) and MEND_METRICS_LISTEN (${env.get("MEND_METRICS_LISTEN")}) differ`);
    }
  }
  const services = objects.filter((o) => o.kind === "Service" && selects(
      {matchLabels: o.spec?.selector ?? {}}, pod.labels) && Object.keys(o.spec?.selector ?? {}).length);
  const headless = services.find((s) => s.metadata.name === set.spec.serviceName);
  if (headless === undefined || headless.spec.clusterIP !== "None") {
    p(`no headless Service ${set.spec.serviceName} (its serviceName) selecting it`);
  }
  if (!services.some((s) => s.spec.clusterIP !== "None")) p("no client Service selecting it");
  const budgets = objects.filter((o) => o.kind === "PodDisruptionBudget" &&
                                        selects(o.spec?.selector, pod.labels));
  if (budgets.length === 0) p("no PodDisruptionBudget selecting it");
}

function check(objects) {
  const problems = [];
  for (const o of objects) {
    if (o.kind === "Secret") problems.push(`Secret/${o.metadata.name}: Secrets are never committed`);
  }
  const pods = podTemplates(objects);
  for (const pod of pods) checkPod(pod, objects, problems);
  // Every Secret referenced is documented with the command that makes it.
  const referenced = new Set();
  for (const pod of pods) {
    for (const v of pod.spec.volumes ?? []) {
      if (v.secret) referenced.add(v.secret.secretName);
      for (const s of v.projected?.sources ?? []) if (s.secret) referenced.add(s.secret.name);
    }
  }
  for (const name of referenced) {
    if (!new RegExp(`kubectl[^\\n]* create secret \\S+ ${name}(?=[\\s]|$)`, "m").test(readme)) {
      problems.push(`Secret ${name} is mounted but deploy/k8s/README.md has no ` +
                    `\`kubectl create secret ... ${name}\` line`);
    }
  }
  return problems;
}

process.exitCode = runWithMutations({
  check,
  renderings: renderingsFrom(flags, loadObjects),
  mutationsFile: flags.mutations?.[0],
});
