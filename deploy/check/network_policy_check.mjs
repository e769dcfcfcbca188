// The NetworkPolicies allow exactly mend's edges, evaluated as Kubernetes
// does (a pod selected by a policy of a type accepts only what one of them
// allows; a connection needs the sender's egress and the receiver's ingress),
// between every mend pod of the rendering and stand-ins for everyone else:
// labelled clients, Prometheus in "monitoring" (and one in the wrong
// namespace), kube-dns, an unlabelled pod, a pod of another namespace and an
// address outside the cluster.
//
// The edge list is lib/edges.mjs; with --binary it is also compared with the
// --upstream_* flags each binary accepts, so a new follower fails this check
// until the list and the policies allow it.
//
//   node network_policy_check.mjs --rendering prod=FILE ... [--mutations FILE]
//       [--binary case=PATH --binary consent=PATH ...]
import {spawnSync} from "node:child_process";
import {containersOf, loadObjects, podTemplates, selects} from "./lib/manifests.mjs";
import {kEdges, kServices} from "./lib/edges.mjs";
import {parseArgs, runWithMutations, renderingsFrom} from "./lib/harness.mjs";

function ipv4(text) {
  return text.split(".").reduce((a, b) => a * 256 + Number(b), 0);
}

function inCidr(ip, cidr) {
  if (ip === undefined || cidr.includes(":")) return false;
  const [net, bits] = cidr.split("/");
  const size = 2 ** (32 - Number(bits));
  return Math.floor(ipv4(ip) / size) === Math.floor(ipv4(net) / size);
}

// The pods of the world: {name, namespace, labels, ip, ports: [{name, port, protocol}]}.
function world(objects) {
  const namespace = objects.find((o) => o.metadata?.namespace)?.metadata.namespace ?? "default";
  const pods = [];
  let n = 1;
  for (const t of podTemplates(objects)) {
    const ports = [];
    for (const c of containersOf(t.spec)) {
      for (const p of c.ports ?? []) {
        ports.push({name: p.name, port: p.containerPort, protocol: p.protocol ?? "TCP"});
      }
    }
    pods.push({name: t.name, namespace, labels: t.labels, ip: `10.1.0.${n++}`, ports, mend: true});
  }
  const other = (name, ns, labels, ports = [{name: "http", port: 8080, protocol: "TCP"}]) =>
    pods.push({name, namespace: ns, labels, ip: `10.2.0.${n++}`, ports, mend: false});
  for (const s of kServices) other(`client-of-${s}`, namespace, {[`mend/client-${s}`]: "true"});
  other("prometheus", "monitoring", {"app.kubernetes.io/name": "prometheus"});
  other("prometheus-elsewhere", "default", {"app.kubernetes.io/name": "prometheus"});
  other("kube-dns", "kube-system", {"k8s-app": "kube-dns"},
        [{name: "dns", port: 53, protocol: "UDP"}, {name: "dns-tcp", port: 53, protocol: "TCP"}]);
  other("unlabelled-pod", namespace, {app: "something-else"});
  other("pod-of-another-namespace", "elsewhere", {});
  pods.push({name: "outside-the-cluster", namespace: null, labels: null, ip: "203.0.113.7",
             ports: [{name: "https", port: 443, protocol: "TCP"}], mend: false});
  return {namespace, pods, policies: objects.filter((o) => o.kind === "NetworkPolicy")};
}

function nsLabels(ns) {
  return ns === null ? null : {"kubernetes.io/metadata.name": ns};
}

// Whether a policy peer (within policy namespace `ns`) is `pod`.
function peerMatches(peer, pod, ns) {
  if (peer.ipBlock) {
    return inCidr(pod.ip, peer.ipBlock.cidr) &&
           !(peer.ipBlock.except ?? []).some((c) => inCidr(pod.ip, c));
  }
  if (pod.labels === null) return false;  // not a pod: only ipBlocks reach it
  const nsOk = peer.namespaceSelector ? selects(peer.namespaceSelector, nsLabels(pod.namespace))
                                      : pod.namespace === ns;
  const podOk = peer.podSelector ? selects(peer.podSelector, pod.labels) : true;
  return nsOk && podOk;
}

function portMatches(rulePorts, port, dst) {
  if (rulePorts === undefined || rulePorts.length === 0) return true;
  return rulePorts.some((rp) => {
    if ((rp.protocol ?? "TCP") !== port.protocol) return false;
    if (rp.port === undefined) return true;
    if (typeof rp.port === "string") {
      return dst.ports.some((p) => p.name === rp.port && p.port === port.port);
    }
    return rp.endPort ? port.port >= rp.port && port.port <= rp.endPort : rp.port === port.port;
  });
}

function types(policy) {
  return policy.spec.policyTypes ?? (policy.spec.egress ? ["Ingress", "Egress"] : ["Ingress"]);
}

// Whether `direction` ("Ingress"/"Egress") policies of `self` let it talk to
// `peer` on `port` (of `dst`).
function allows(w, direction, self, peer, port, dst) {
  if (!self.mend) return true;  // only the rendering's policies are known
  const selecting = w.policies.filter(
      (p) => types(p).includes(direction) && selects(p.spec.podSelector, self.labels));
  if (selecting.length === 0) return true;
  const key = direction === "Ingress" ? "ingress" : "egress";
  const peers = direction === "Ingress" ? "from" : "to";
  return selecting.some((p) => (p.spec[key] ?? []).some((rule) => {
    const list = rule[peers];
    const peerOk = list === undefined || list.length === 0 ||
                   list.some((x) => peerMatches(x, peer, w.namespace));
    return peerOk && portMatches(rule.ports, port, dst);
  }));
}

function connects(w, src, dst, port) {
  return allows(w, "Egress", src, dst, port, dst) && allows(w, "Ingress", dst, src, port, dst);
}

function component(pod) {
  return pod.labels?.["app.kubernetes.io/component"];
}

function expected(src, dst, port) {
  const to = component(dst);
  if (!dst.mend) {
    return src.mend && dst.name === "kube-dns" && port.port === 53;  // DNS, and nothing else out
  }
  if (port.name === "grpc") {
    if (src.mend && kEdges.some(([d, u]) => d === component(src) && u === to)) return true;
    if (src.name === `client-of-${to}`) return true;
    if (src.labels?.["mend/auditor"] === "true" && src.mend) return true;
    if (src.labels?.["mend/operator"] === "true" && src.mend) return true;  // backups
    return false;
  }
  if (port.name === "metrics") return src.name === "prometheus";
  return false;  // the health port: the kubelet only, which is not a pod
}

function check(objects) {
  const w = world(objects);
  const problems = [];
  const found = new Set(w.pods.filter((p) => p.mend).map(component));
  for (const s of [...kServices, "audit", "backup"]) {
    if (!found.has(s)) problems.push(`no pod of component ${s} in the rendering`);
  }
  for (const src of w.pods) {
    for (const dst of w.pods) {
      if (src === dst || !(src.mend || dst.mend)) continue;
      for (const port of dst.ports) {
        const got = connects(w, src, dst, port);
        const want = expected(src, dst, port);
        if (got !== want) {
          problems.push(`${src.name} -> ${dst.name} port ${port.name} (${port.port}/${port.protocol}): ` +
                        (got ? "allowed, but it is not an edge of mend's" : "denied, but it is an edge of mend's"));
        }
      }
    }
  }
  return problems;
}

// The edges the binaries' flags imply: downstream -> u for each
// --upstream_<u> the downstream's binary accepts.
function edgesOfBinaries(binaries) {
  const edges = [];
  for (const [service, binary] of binaries) {
    for (const upstream of kServices) {
      const r = spawnSync(binary, [`--upstream_${upstream}=localhost:1`, "--only_check_args"],
                          {encoding: "utf8", timeout: 20000});
      if (r.status === 0) edges.push([service, upstream]);
      else if (r.status !== 2) throw new Error(`${binary}: exit ${r.status} ${r.stderr}`);
    }
  }
  return edges;
}

function compareEdges(binaries) {
  const key = ([d, u]) => `${d} -> ${u}`;
  const got = new Set(edgesOfBinaries(binaries).map(key));
  const want = new Set(kEdges.map(key));
  const problems = [];
  for (const e of got) if (!want.has(e)) problems.push(`the binaries follow ${e}, which the edge list lacks`);
  for (const e of want) if (!got.has(e)) problems.push(`the edge list has ${e}, which no binary follows`);
  return problems;
}

const {flags} = parseArgs(process.argv.slice(2));
let code = runWithMutations({
  check,
  renderings: renderingsFrom(flags, loadObjects),
  mutationsFile: flags.mutations?.[0],
});
if (flags.binary) {
  const binaries = new Map(flags.binary.map((b) => b.split("=")));
  const problems = compareEdges(binaries);
  for (const p of problems) console.log(`FAIL: ${p}`);
  if (problems.length === 0) console.log("ok: the edge list is what the binaries' --upstream_* flags say");
  // The comparison can fail: with case's and conference's binaries swapped
  // it must find the difference.
  const swapped = new Map(binaries);
  swapped.set("case", binaries.get("conference"));
  swapped.set("conference", binaries.get("case"));
  const found = compareEdges(swapped);
  if (found.length > 0) {
    console.log(`ok: with case's and conference's binaries swapped it finds: ${found[0]}`);
  } else {
    console.log("FAIL: swapping case's and conference's binaries went unnoticed");
  }
  if (problems.length > 0 || found.length === 0) code = 1;
}
process.exitCode = code;
