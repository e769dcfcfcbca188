// The four services run as the rendered manifests configure them, on this
// machine: each pod's volumes made in a temporary directory (Secret files
// from the development key scripts, with the modes the kubelet gives them
// under fsGroup: 0400 | 0440; the volume claim and
// emptyDirs as directories), each init container's command run, then the
// service's binary with the pod's ConfigMap variables, paths under the
// temporary root, and only the addresses moved to free loopback ports
// (upstreams to localhost, which the development certificates name).
// Then it asserts:
//   - each container's startup, readiness and liveness probe, asked as the
//     kubelet asks (mend-kubelet-probe: plaintext gRPC Health/Check for the
//     probe's service on the probe's port), answers SERVING; and the same
//     plaintext Check on the TLS service port and one for a service the
//     server does not have do not (so the probe can fail);
//   - every follower is subscribed over mutual TLS with its service token,
//     on exactly the edges of lib/edges.mjs: each upstream has as many
//     Subscribe streams open as it has followers, and refused none;
//   - SIGTERM drains each service to exit 0 within the pod's
//     terminationGracePeriodSeconds.
// It writes the metric families the services export ("# TYPE" lines of their
// /metrics) to --metrics_out, for the alert and dashboard checks.
//
//   node services_live.mjs --rendering FILE --scripts DIR --probe PATH
//       --binary mend-case=PATH ... --binary mend-token=PATH --metrics_out FILE
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import {spawn, spawnSync} from "node:child_process";
import {containersOf, environmentOf, loadObjects, podTemplates} from "./lib/manifests.mjs";
import {kEdges, kServices} from "./lib/edges.mjs";
import {parseArgs} from "./lib/harness.mjs";

const {flags} = parseArgs(process.argv.slice(2));
const objects = loadObjects(flags.rendering[0]);
const scripts = flags.scripts[0];
const probe = flags.probe[0];
const binaries = new Map(flags.binary.map((b) => b.split("=")));
const keep = process.env.MEND_KEEP_TEST_DIRS === "1";
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mend-deploy-live-"));
const children = [];
let failed = 0;

function ok(message) {
  console.log(`ok: ${message}`);
}
function fail(message) {
  failed++;
  console.log(`FAIL: ${message}`);
}

function run(program, args, options = {}) {
  const r = spawnSync(program, args, {encoding: "utf8", timeout: 60000, ...options});
  if (r.status !== 0) {
    throw new Error(`${program} ${args.join(" ")}: exit ${r.status}: ${r.stderr}${r.stdout}`);
  }
  return r.stdout;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const {port} = server.address();
      server.close(() => resolve(port));
    });
  });
}

function scrape(port) {
  return new Promise((resolve, reject) => {
    http.get({host: "127.0.0.1", port, path: "/metrics", timeout: 5000}, (res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve(body));
    }).on("error", reject);
  });
}

function exited(child, ms) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve({code: child.exitCode, signal: child.signalCode});
      return;
    }
    const timer = setTimeout(() => resolve(null), ms);
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      resolve({code, signal});
    });
  });
}

// --- the keys, as the README's Secrets hold them ---

const keys = path.join(tmp, "keys");
const certs = path.join(tmp, "certs");
run("bash", [path.join(scripts, "dev-certs.sh"), certs]);
run("bash", [path.join(scripts, "dev-token-key.sh"), keys]);
run("bash", [path.join(scripts, "dev-tree-key.sh"), keys]);
const mintToken = (subject, role) => run(binaries.get("mend-token"), [
  `--key=${path.join(keys, "token-key.pem")}`, `--subject=${subject}`, `--role=${role}`, "--ttl=1h",
]).trim();

// The contents of Secret `name`'s key `key` (deploy/k8s/README.md).
function secretValue(name, key) {
  let m;
  if ((m = /^mend-(\w+)-tls$/.exec(name))) {
    const file = {"tls.crt": `${m[1]}.pem`, "tls.key": `${m[1]}-key.pem`, "ca.crt": "ca.pem"}[key];
    return fs.readFileSync(path.join(certs, file));
  }
  if (name === "mend-token-public-key" && key === "token-public.pem") {
    return fs.readFileSync(path.join(keys, "token-pub.pem"));
  }
  if (/^mend-\w+-tree-head-key$/.test(name) && key === "tree-head.pem") {
    return fs.readFileSync(path.join(keys, "tree-key.pem"));
  }
  if (/^mend-\w+-master-key$/.test(name) && key === "master.key") {
    return run("openssl", ["rand", "-hex", "32"]);
  }
  if ((m = /^mend-(\w+)-service-token$/.exec(name)) && key === "token") {
    return mintToken(`svc-${m[1]}`, "service");
  }
  throw new Error(`no test value for Secret ${name} key ${key}`);
}

// Makes the pod's volumes under `root` (root + mountPath, as each container
// sees them; a volume mounted twice is one directory, linked).
function makeVolumes(pod, root) {
  const volumes = new Map((pod.spec.volumes ?? []).map((v) => [v.name, v]));
  const claims = new Set((pod.owner.spec.volumeClaimTemplates ?? []).map((t) => t.metadata.name));
  const made = new Map();  // volume name -> directory
  const fsGroup = pod.spec.securityContext?.fsGroup;
  for (const c of containersOf(pod.spec)) {
    for (const m of c.volumeMounts ?? []) {
      const at = path.join(root, m.mountPath);
      if (made.has(m.name)) {
        if (made.get(m.name) !== at) {
          fs.mkdirSync(path.dirname(at), {recursive: true});
          fs.symlinkSync(made.get(m.name), at);
        }
        continue;
      }
      fs.mkdirSync(at, {recursive: true});
      made.set(m.name, at);
      const v = volumes.get(m.name);
      if (v === undefined && !claims.has(m.name)) throw new Error(`mount of unknown volume ${m.name}`);
      const sources = v?.secret ? [{secret: {name: v.secret.secretName, items: v.secret.items}, mode: v.secret.defaultMode}]
                    : (v?.projected?.sources ?? []).map((s) => ({...s, mode: v.projected.defaultMode}));
      for (const s of sources) {
        if (!s.secret) continue;
        for (const item of s.secret.items ?? []) {
          const file = path.join(at, item.path);
          fs.writeFileSync(file, secretValue(s.secret.name, item.key));
          // Under fsGroup the kubelet adds group read (0400 -> 0440, group
          // fsGroup) to a Secret's files: the key store refuses such a master
          // key, which is why the master key is copied by an init container.
          fs.chmodSync(file, (item.mode ?? s.mode ?? 0o644) | (fsGroup === undefined ? 0 : 0o440));
        }
      }
    }
  }
}

// A value naming a path inside one of the container's mounts, moved under root.
function rooted(value, container, root) {
  for (const m of container.volumeMounts ?? []) {
    if (value === m.mountPath || value.startsWith(`${m.mountPath}/`)) return path.join(root, value);
  }
  return value;
}

async function main() {
  const pods = new Map();
  for (const pod of podTemplates(objects)) {
    const service = pod.labels["app.kubernetes.io/component"];
    if (pod.kind === "StatefulSet" && kServices.includes(service)) pods.set(service, pod);
  }
  for (const s of kServices) if (!pods.has(s)) throw new Error(`no StatefulSet for ${s}`);
  const ports = new Map();
  for (const s of kServices) {
    ports.set(s, {grpc: await freePort(), health: await freePort(), metrics: await freePort()});
  }
  const running = new Map();
  // In kServices order. Case follows scheduling and conference, which start
  // after it: its followers retry with backoff until they are up, as in a
  // cluster, where no pod waits for another.
  for (const s of kServices) {
    const pod = pods.get(s);
    const root = path.join(tmp, s, "root");
    makeVolumes(pod, root);
    for (const init of pod.spec.initContainers ?? []) {
      const [program, ...args] = (init.command ?? []).map((a) => rooted(a, init, root));
      run(program, args);
      ok(`${s}: init container ${init.name} ran: ${path.basename(program)} ${args.map((a) => path.basename(a)).join(" ")}`);
    }
    const c = pod.spec.containers[0];
    const {env} = environmentOf(c, objects);
    const childEnv = {PATH: process.env.PATH};
    for (const [k, v] of env) childEnv[k] = rooted(v, c, root);
    const p = ports.get(s);
    const args = [
      ...(c.command ?? []).slice(1), ...(c.args ?? []),
      `--listen=127.0.0.1:${p.grpc}`, `--health_listen=127.0.0.1:${p.health}`,
      `--metrics_listen=127.0.0.1:${p.metrics}`,
    ];
    for (const [k] of env) {
      const m = /^MEND_UPSTREAM_(\w+)$/.exec(k);
      if (m) args.push(`--upstream_${m[1].toLowerCase()}=localhost:${ports.get(m[1].toLowerCase()).grpc}`);
    }
    const binary = binaries.get(path.basename(c.command[0]));
    const log = fs.openSync(path.join(tmp, `${s}.log`), "w");
    const child = spawn(binary, args, {env: childEnv, stdio: ["ignore", log, log]});
    children.push(child);
    running.set(s, {child, pod, container: c, log: path.join(tmp, `${s}.log`)});
    // The probes, as the kubelet asks them: startup (waiting out the replay),
    // then readiness and liveness.
    for (const kind of ["startupProbe", "readinessProbe", "livenessProbe"]) {
      const grpc = c[kind]?.grpc;
      if (!grpc) {
        fail(`${s}: no gRPC ${kind}`);
        continue;
      }
      const port = grpc.port === Number(/:(\d+)$/.exec(env.get("MEND_HEALTH_LISTEN"))?.[1]) ? p.health : NaN;
      const r = spawnSync(probe, [
        `--address=127.0.0.1:${port}`, `--service=${grpc.service ?? ""}`,
        `--wait=${kind === "startupProbe" ? "60s" : "0s"}`, `--timeout=${c[kind].timeoutSeconds ?? 1}s`,
      ], {encoding: "utf8", timeout: 90000});
      if (r.status === 0) ok(`${s}: ${kind} ${r.stdout.trim()}`);
      else fail(`${s}: ${kind} on port ${grpc.port} (${port}) "${grpc.service ?? ""}": ${r.stderr.trim()}\n` +
                fs.readFileSync(running.get(s).log, "utf8").slice(-3000));
    }
  }

  // The probe can fail: plaintext on the TLS port, and a service not there.
  const p = ports.get("case");
  const plain = spawnSync(probe, [`--address=127.0.0.1:${p.grpc}`, "--timeout=5s"], {encoding: "utf8"});
  if (plain.status === 1) ok(`a plaintext probe of the TLS port fails: ${plain.stderr.trim()}`);
  else fail(`a plaintext probe of case's TLS port did not fail: ${plain.stdout}${plain.stderr}`);
  const unknown = spawnSync(probe, [`--address=127.0.0.1:${p.health}`, "--service=mend.nothing.v1.Nothing",
                                    "--timeout=5s"], {encoding: "utf8"});
  if (unknown.status === 1) ok(`a probe for a service case does not serve fails: ${unknown.stderr.trim()}`);
  else fail(`a probe for an unknown service did not fail: ${unknown.stdout}${unknown.stderr}`);

  // Followers: subscribed over mutual TLS with their tokens, on exactly the
  // edges. Counted where the streams end: each upstream's Subscribe calls
  // started and not answered (its gRPC server metrics), which must be its
  // followers in lib/edges.mjs, with none refused. (The followers' own
  // mend_subscription_connected turns 1 only at the first message, which
  // these empty logs never send.)
  const subscribe = "mend.eventlog.v1.EventLog/Subscribe";
  const series = (text, family) => [...text.matchAll(new RegExp(`^${family}\\{([^}]*)\\} (\\S+)$`, "gm"))]
      .map((m) => ({labels: Object.fromEntries([...m[1].matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]])),
                    value: Number(m[2])}));
  const texts = new Map();
  let open = new Map();
  let refused = [];
  for (const deadline = Date.now() + 30000; Date.now() < deadline;) {
    open = new Map();
    refused = [];
    for (const s of kServices) {
      const text = await scrape(ports.get(s).metrics);
      texts.set(s, text);
      const started = series(text, "mend_grpc_server_started_total")
          .filter((x) => x.labels.method === subscribe).reduce((a, x) => a + x.value, 0);
      let handled = 0;
      for (const x of series(text, "mend_grpc_server_handled_total")) {
        if (x.labels.method !== subscribe) continue;
        handled += x.value;
        if (x.labels.code !== "OK") refused.push(`${s}: ${x.value} Subscribe answered ${x.labels.code}`);
      }
      open.set(s, started - handled);
    }
    const settled = kServices.every((u) => open.get(u) === kEdges.filter(([, up]) => up === u).length);
    if (settled || refused.length > 0) break;
    await new Promise((r) => setTimeout(r, 200));  // the followers' own retry backoff
  }
  for (const u of kServices) {
    const followers = kEdges.filter(([, up]) => up === u).map(([d]) => d);
    if (open.get(u) === followers.length) {
      ok(`${u}: ${open.get(u)} Subscribe streams open, from its followers (${followers.join(", ") || "none"})`);
    } else {
      fail(`${u}: ${open.get(u)} Subscribe streams open, not ${followers.length} (${followers.join(", ")})`);
    }
  }
  for (const r of refused) fail(`a follower was refused: ${r}`);
  const gauges = [];
  for (const text of texts.values()) {
    for (const x of series(text, "mend_subscription_connected")) {
      gauges.push(`${x.labels.service}<-${x.labels.upstream}`);
    }
  }
  const want = kEdges.map(([d, u]) => `${d}<-${u}`).sort();
  if (JSON.stringify(gauges.sort()) === JSON.stringify(want)) {
    ok(`the followers' gauges name exactly the edges: ${want.join(", ")}`);
  } else {
    fail(`the followers' gauges name ${gauges.join(", ")}, not the edges ${want.join(", ")}`);
  }

  // The metric families the services export.
  const families = new Map();
  for (const text of texts.values()) {
    for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) families.set(m[1], m[2]);
  }
  const list = [...families].sort().map(([n, t]) => `${n} ${t}`).join("\n") + "\n";
  fs.writeFileSync(flags.metrics_out[0], list);
  ok(`${families.size} metric families exported, written to ${flags.metrics_out[0]}`);

  // SIGTERM: drained within the pod's termination grace.
  for (const s of [...kServices].reverse()) {
    const {child, pod} = running.get(s);
    const grace = pod.spec.terminationGracePeriodSeconds ?? 30;
    child.kill("SIGTERM");
    const r = await exited(child, grace * 1000);
    if (r === null) fail(`${s}: still running ${grace}s after SIGTERM`);
    else if (r.code === 0) ok(`${s}: drained and exited 0 after SIGTERM, within ${grace}s`);
    else fail(`${s}: exited ${r.code ?? r.signal} after SIGTERM\n` +
              fs.readFileSync(running.get(s).log, "utf8").slice(-3000));
  }
}

try {
  await main();
} catch (e) {
  fail(e.stack ?? String(e));
} finally {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  if (keep || failed > 0) console.log(`kept ${tmp}`);
  else fs.rmSync(tmp, {recursive: true, force: true});
}
console.log(failed === 0 ? "all checks passed" : `${failed} check(s) failed`);
process.exitCode = failed === 0 ? 0 : 1;
