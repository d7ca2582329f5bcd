/**
 * What the cluster tier's scenarios share: the stack they build (reaching packages and images only
 * through the program's mirror keys), each host's state for before/after comparisons, polling,
 * failure diagnostics and an availability prober.
 */
import * as fs from "node:fs";
import * as https from "node:https";
import * as http from "node:http";
import * as path from "node:path";
import { expect } from "vitest";
import { modelFromObject, type ClusterModel } from "../../components/config";
import type { ClusterPlan } from "../../components/remote/step";
import { startFakeAptRepo, startImageRegistry, type FakeAptRepo, type ImageRegistry, type TestHosts } from "../hosts/harness";
import { serveDirectory, type FileServer } from "../hosts/harness/file-server";
import { buildReleaseMirror } from "../hosts/harness/release-mirror";
import { splitPackages } from "../hosts/fingerprint";
import { fingerprintScript, shellOn } from "../hosts/steps";
import { until } from "../support/until";

export { until };

export const KUBECTL = "kubectl --kubeconfig /etc/kubernetes/admin.conf";

/** The test workload (tools/k8s-artifacts/webprobe): serves a text, fetches a URL, resolves a name. */
export function webprobeImage(registry: ImageRegistry): string {
  return `${registry.mirrorOf("docker.io")}/kubeadm-on-pulumi/webprobe:v1`;
}

/** The versions file the artifact build wrote: image tags and component versions. */
export function builtVersions(dir: string): Record<string, string> {
  return Object.fromEntries(
    fs
      .readFileSync(path.join(dir, "versions.env"), "utf8")
      .trim()
      .split("\n")
      .map((l) => l.split("=") as [string, string]),
  );
}

export interface Topology {
  loadBalancers?: string[];
  vip?: string;
  controlPlanes: string[];
  workers: string[];
}

/** The stack a scenario builds: its hosts, the newest or an older release, the local mirrors. */
/** Where the test hosts download from: packages, images, release files. */
export interface Mirrors {
  repo: FakeAptRepo;
  registry: ImageRegistry;
  /** containerd's and runc's release files (test/hosts/harness/release-mirror.ts). */
  releases: FileServer;
}

/** Starts the package repository, the registry and the release-file server for the given artifact directories. */
export async function startMirrors(env: TestHosts, artifactsByVersion: Record<string, string>): Promise<Mirrors> {
  const byPackageVersion = Object.fromEntries(Object.entries(artifactsByVersion).map(([v, dir]) => [v.replace(/^v/, ""), dir]));
  const repo = await startFakeAptRepo({ versions: Object.keys(byPackageVersion), artifacts: byPackageVersion });
  const registry = await startImageRegistry({ artifacts: Object.values(artifactsByVersion) });
  const releases = await serveDirectory(buildReleaseMirror(), env.gateway);
  return { repo, registry, releases };
}

export async function stopMirrors(m: Partial<Mirrors> | undefined): Promise<void> {
  await m?.releases?.stop();
  await m?.registry?.stop();
  await m?.repo?.stop();
}

/**
 * The stack config a scenario builds (the `cluster:` keys without their namespace): its hosts, one
 * release, the local mirrors. Records keep their keys sorted, as pulumi hands objects to the program,
 * so a plan made here equals the one the program makes from the same keys through the engine.
 */
export function clusterStackConfig(
  env: TestHosts,
  mirrors: Mirrors,
  artifacts: string,
  version: string,
  topology: Topology,
  opts: { registryMirrors?: Record<string, string[]> } = {},
): Record<string, unknown> {
  const { repo, registry } = mirrors;
  const built = builtVersions(artifacts);
  const lbs = topology.loadBalancers ?? [];
  const host = (name: string, role: string) => {
    const h = env.host(name);
    return { name, address: h.address, roles: [role], ssh: { port: h.port, user: h.user } };
  };
  return {
    kubernetes: {
      version: version.replace(/^v/, ""),
      // The test hosts run on a cgroup v1 machine (real hosts are cgroup v2).
      allowCgroupV1: true,
      // The test hosts are containers: kube-proxy cannot write nf_conntrack_max (as on LXC hosts).
      kubeProxyExtraConfig: { conntrack: { maxPerCore: 0 } },
      // Every test host's "disk" is the machine's one filesystem, shared by up to nine hosts and the
      // build caches: the default thresholds (15% free for images) would evict on the machine's
      // free share, not the host's. Absolute amounts instead; the memory default is kept.
      kubeletExtraConfig: { evictionHard: { "imagefs.available": "2Gi", "memory.available": "100Mi", "nodefs.available": "2Gi", "nodefs.inodesFree": "5%" } },
    },
    mirrors: {
      kubernetesPackages: repo.baseUrl,
      imageRepository: registry.mirrorOf("registry.k8s.io"),
      addonImageRegistries: Object.fromEntries(["docker.io", "ghcr.io", "registry.k8s.io"].map((r) => [r, registry.mirrorOf(r)])),
      insecureRegistries: [registry.host],
      ...(opts.registryMirrors ? { registryMirrors: opts.registryMirrors } : {}),
      releases: { containerd: `${mirrors.releases.url}/containerd`, runc: `${mirrors.releases.url}/runc` },
    },
    // The test hosts are containers without CAP_SYS_RESOURCE (this machine's bounding set lacks it).
    runtime: { containerd: { restrictOomScoreAdj: true } },
    // VRRP router id 52: the hosts tier's balancers (51, the default) may be up on the same bridge at once.
    ...(lbs.length > 0 ? { loadBalancer: { interface: "host0", mode: "dedicated", virtualRouterId: 52, vip: topology.vip } } : {}),
    hosts: [...lbs.map((n) => host(n, "load-balancer")), ...topology.controlPlanes.map((n) => host(n, "control-plane")), ...topology.workers.map((n) => host(n, "worker"))],
    addons: {
      cni: { plugin: "flannel", flannel: { cniPluginImage: `ghcr.io/flannel-io/flannel-cni-plugin:${built.flannel_cni}`, image: `ghcr.io/flannel-io/flannel:${built.flannel}` } },
      // The kubelet CSR approver is not served as a Go module: metrics-server keeps kubeadm's self-signed kubelet certificates.
      metricsServer: { enabled: true, image: `registry.k8s.io/metrics-server/metrics-server:${built.metrics_server}`, kubeletInsecureTls: true },
      storage: { localPath: { helperImage: `docker.io/library/busybox:${built.busybox}`, image: `docker.io/rancher/local-path-provisioner:${built.local_path}` }, provisioner: "local-path" },
    },
  };
}

export function clusterModel(env: TestHosts, mirrors: Mirrors, artifacts: string, version: string, topology: Topology): ClusterModel {
  return modelFromObject(clusterStackConfig(env, mirrors, artifacts, version, topology), "cluster-tier");
}

/**
 * What the program leaves on a host and, with `leftovers`, what Kubernetes leaves when it is not
 * cleaned up (links, chains, mounts: these also move while pods come and go, so a second run's
 * comparison leaves them out).
 */
export function hostStateScript(plans: ClusterPlan[], host: string, leftovers = true): string {
  const paths = [...new Set([...plans.flatMap((p) => p.steps.filter((s) => s.host === host).flatMap((s) => s.files.map((f) => f.path))), "/etc/hosts", "/etc/fstab"])];
  const dirs = ["/etc/apt/sources.list.d", "/etc/apt/keyrings", "/etc/containerd", "/etc/kubernetes", "/etc/cni/net.d", "/opt", "/opt/cni/bin", "/var/lib/kubeadm-on-pulumi", "/etc/modules-load.d", "/etc/sysctl.d", "/etc/haproxy", "/etc/keepalived"];
  const fingerprint = fingerprintScript(paths, ["containerd", "kubelet", "haproxy", "keepalived"], dirs, { mtimes: false });
  if (!leftovers) return fingerprint;
  return [
    fingerprint,
    "echo \"links $(ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | sort | tr '\\n' ' ')\"",
    "echo \"addresses $(ip -4 -o addr show | awk '{print $2, $4}' | sort | tr '\\n' ' ')\"",
    "echo \"kube-chains $(iptables-save 2>/dev/null | grep -c '^:KUBE-' || true) flannel-chains $(iptables-save 2>/dev/null | grep -c '^:FLANNEL' || true)\"",
    "echo \"mounts $(grep -c -e /var/lib/kubelet -e /run/containerd /proc/mounts || true)\"",
  ].join("\n");
}

export async function hostState(env: TestHosts, plans: ClusterPlan[], host: string, leftovers = true): Promise<string> {
  const r = await env.run(host, hostStateScript(plans, host, leftovers));
  expect(r.code, r.stderr).toBe(0);
  return r.stdout;
}

/**
 * Checks a host is back to `before`: every line equal, the same packages, and a package version
 * changed only upward (apt upgrades a package the host had when a new one needs a newer version;
 * a purge cannot downgrade it). Returns the upgrades.
 */
export async function expectRestored(env: TestHosts, host: string, before: string, after: string): Promise<string[]> {
  const [was, now] = [splitPackages(before), splitPackages(after)];
  expect(now.rest.join("\n"), host).toBe(was.rest.join("\n"));
  expect([...now.packages.keys()], `${host}: installed packages`).toEqual([...was.packages.keys()]);
  const upgraded: string[] = [];
  for (const [name, version] of now.packages) {
    const old = was.packages.get(name)!;
    if (version === old) continue;
    const r = await env.run(host, `dpkg --compare-versions '${version}' gt '${old}'`);
    expect(r.code, `${host}: ${name} ${old} -> ${version} is not an upgrade`).toBe(0);
    upgraded.push(`${host}: ${name.split(" ")[0]} ${old} -> ${version}`);
  }
  return upgraded;
}

/** kubectl with the admin credentials on a control plane; throws with the output on failure. */
export function kubectlOn(env: TestHosts, host: string): (args: string) => Promise<string> {
  const sh = shellOn(env, host);
  return (args) => sh(`${KUBECTL} ${args}`);
}

/** The Ready condition of every node, by name. */
export async function nodeReadiness(kubectl: (args: string) => Promise<string>): Promise<Record<string, string>> {
  const out = await kubectl("get nodes -o jsonpath='{range .items[*]}{.metadata.name}={.status.conditions[?(@.type==\"Ready\")].status} {end}'");
  return Object.fromEntries(out.split(" ").filter(Boolean).map((x) => x.split("=") as [string, string]));
}

export async function waitNodesReady(kubectl: (args: string) => Promise<string>, nodes: string[], timeoutMs = 300_000): Promise<void> {
  await until(`nodes ${nodes.join(", ")} Ready`, timeoutMs, async () => {
    const ready = await nodeReadiness(kubectl);
    return nodes.every((n) => ready[n] === "True");
  });
}

/** Each host's kubelet and containerd logs, its containers and the logs of the exited ones; the cluster's pods and events. */
export async function diagnostics(env: TestHosts, hosts: string[], controlPlane: string): Promise<string> {
  const parts: string[] = [];
  for (const host of hosts) {
    const r = await env.run(
      host,
      [
        "command -v kubelet >/dev/null || exit 0",
        "journalctl -u kubelet --no-pager -n 25 2>&1",
        "echo '--- containers'; crictl ps -a 2>&1 | head -20",
        // The newest exited container of each name: why it stopped.
        "for id in $(crictl ps -a --state exited -q 2>/dev/null); do n=$(crictl inspect -o go-template --template '{{.status.metadata.name}}' \"$id\" 2>/dev/null); case \" $seen \" in *\" $n \"*) continue;; esac; seen=\"$seen $n\"; echo \"--- logs of $n\"; crictl logs --tail 15 \"$id\" 2>&1; done",
        "echo '--- containerd'; journalctl -u containerd --no-pager -n 10 2>&1",
      ].join("; "),
      { timeoutMs: 60_000 },
    );
    parts.push(`=== ${host}\n${r.stdout}${r.stderr}`);
  }
  const pods = await env.run(controlPlane, `${KUBECTL} get nodes -o wide 2>&1; ${KUBECTL} get pods -A -o wide 2>&1; ${KUBECTL} get events -A --sort-by=.lastTimestamp 2>&1 | tail -40`, { timeoutMs: 60_000 });
  parts.push(`=== nodes, pods and events\n${pods.stdout}${pods.stderr}`);
  return parts.join("\n");
}

/** Runs a check; when it fails, its error carries the diagnostics. */
export function diagnosed<T>(env: TestHosts, hosts: string[], controlPlane: string, p: Promise<T>): Promise<T> {
  return p.catch(async (e: unknown) => {
    throw new Error(`${(e as Error).message}\n\n${await diagnostics(env, hosts, controlPlane).catch((d: unknown) => `(diagnostics failed: ${String(d)})`)}`);
  });
}

/**
 * The longest time in which none of the probers had an answer: "available through some node".
 * Never longer than any one prober's own longest gap; a hiccup of one node alone does not count.
 */
export function longestJointGapMs(probers: ReadonlyArray<{ answered: readonly number[]; windowStart: number }>, now = Date.now()): number {
  const times = [Math.min(...probers.map((p) => p.windowStart)), ...probers.flatMap((p) => p.answered).sort((a, b) => a - b), now];
  let longest = 0;
  for (let i = 1; i < times.length; i++) longest = Math.max(longest, times[i] - times[i - 1]);
  return longest;
}

/**
 * Asks a URL every `everyMs` until stopped and measures the longest stretch without an answer:
 * from the last answered request before a failure to the first answered one after it.
 */
export function startProber(url: string, everyMs = 200, timeoutMs = 1000) {
  const client = url.startsWith("https:") ? https : http;
  let lastOk = Date.now();
  let longestGapMs = 0;
  let failures = 0;
  let requests = 0;
  let stopped = false;
  /** When each answer of this window came (for gaps across several probers: `longestJointGapMs`). */
  let answered: number[] = [];
  let windowStart = Date.now();
  const ask = () =>
    new Promise<boolean>((resolve) => {
      const req = client.get(url, { rejectUnauthorized: false, agent: false, timeout: timeoutMs } as https.RequestOptions, (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode === 200));
        res.on("error", () => resolve(false));
      });
      req.on("timeout", () => req.destroy());
      req.on("error", () => resolve(false));
    });
  const loop = (async () => {
    while (!stopped) {
      const started = Date.now();
      requests++;
      if (await ask()) {
        longestGapMs = Math.max(longestGapMs, Date.now() - lastOk);
        lastOk = Date.now();
        answered.push(lastOk);
      } else failures++;
      await new Promise((r) => setTimeout(r, Math.max(0, everyMs - (Date.now() - started))));
    }
  })();
  return {
    /** Starts a new measurement window. */
    reset() {
      lastOk = Date.now();
      windowStart = lastOk;
      answered = [];
      longestGapMs = 0;
      failures = 0;
      requests = 0;
    },
    get answered() {
      return answered;
    },
    get windowStart() {
      return windowStart;
    },
    get failures() {
      return failures;
    },
    /** The longest gap so far, counting a gap still open now. */
    result() {
      return { longestGapMs: Math.max(longestGapMs, Date.now() - lastOk), failures, requests };
    },
    async stop() {
      stopped = true;
      await loop;
    },
  };
}
