/**
 * Cluster tier: a real Kubernetes cluster on systemd-nspawn test hosts, made by the program's own
 * steps (the exact create and delete scripts the engine sends), from binaries and images built
 * from Go modules (scripts/build-k8s-artifacts.sh, run by this tier's globalSetup), installed
 * through the program's mirror keys only: real signed packages from the local per-minor package
 * repository (cluster:mirrors.kubernetesPackages) and images from a real registry on the test
 * bridge (cluster:mirrors.imageRepository, addonImageRegistries, insecureRegistries).
 *
 * Stand-ins that remain (docs/cluster-tests.md): CoreDNS is built at the newest served v1.14 and
 * tagged with the name kubeadm asks for; the flannel CNI plugin comes from containernetworking
 * plugins v0.9.1 (the last release that held it); the kubelet CSR approver is not served, so
 * metrics-server runs with kubeletInsecureTls; the hosts are cgroup v1 containers, not machines.
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { modelFromObject, type ClusterModel } from "../../components/config";
import { planCluster } from "../../components/plan";
import type { ClusterPlan } from "../../components/remote/step";
import { requireRoot, startFakeAptRepo, startImageRegistry, startTestHosts, type FakeAptRepo, type ImageRegistry, type TestHosts } from "../hosts/harness";
import { fingerprintScript, shellOn } from "../hosts/steps";
import { plain, runAddons } from "../unit/addons-support";
import { createAll, deleteAll } from "./run-plan";
import { until } from "../support/until";

const VERSION = inject("kubernetesVersion");
const ARTIFACTS = inject("k8sArtifacts");
const CONTROL_PLANES = ["cp1"];
const WORKERS = ["w1", "w2"];
const HOSTS = [...CONTROL_PLANES, ...WORKERS];
const KUBECTL = "kubectl --kubeconfig /etc/kubernetes/admin.conf";

/** The versions file the artifact build wrote: image tags and component versions. */
function builtVersions(dir: string): Record<string, string> {
  return Object.fromEntries(
    fs
      .readFileSync(path.join(dir, "versions.env"), "utf8")
      .trim()
      .split("\n")
      .map((l) => l.split("=") as [string, string]),
  );
}

/** What the program leaves on a host, and what Kubernetes leaves when it is not cleaned up. */
function hostState(plan: ClusterPlan, host: string): string {
  const paths = [...new Set([...plan.steps.filter((s) => s.host === host).flatMap((s) => s.files.map((f) => f.path)), "/etc/hosts", "/etc/fstab"])];
  const dirs = ["/etc/apt/sources.list.d", "/etc/apt/keyrings", "/etc/containerd", "/etc/kubernetes", "/etc/cni/net.d", "/opt/cni/bin", "/var/lib/kubeadm-on-pulumi", "/etc/modules-load.d", "/etc/sysctl.d"];
  return [
    fingerprintScript(paths, ["containerd", "kubelet"], dirs, { mtimes: false }),
    "echo \"links $(ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | sort | tr '\\n' ' ')\"",
    "echo \"kube-chains $(iptables-save 2>/dev/null | grep -c '^:KUBE-' || true) flannel-chains $(iptables-save 2>/dev/null | grep -c '^:FLANNEL' || true)\"",
    "echo \"mounts $(grep -c -e /var/lib/kubelet -e /run/containerd /proc/mounts || true)\"",
  ].join("\n");
}

describe(`a real Kubernetes ${VERSION} cluster from the program's own steps`, () => {
  let env: TestHosts;
  let repo: FakeAptRepo;
  let registry: ImageRegistry;
  let model: ClusterModel;
  let plan: ClusterPlan;
  const secrets: Record<string, string> = {
    bootstrap_token: `${randomBytes(3).toString("hex")}.${randomBytes(8).toString("hex")}`,
    certificate_key: randomBytes(32).toString("hex"),
  };
  const pristine: Record<string, string> = {};
  const cp = (script: string) => shellOn(env, "cp1")(script);
  const kubectl = (args: string) => cp(`${KUBECTL} ${args}`);
  const state = async (host: string) => {
    const r = await env.run(host, hostState(plan, host));
    expect(r.code, r.stderr).toBe(0);
    return r.stdout;
  };

  /** What a failed bootstrap needs to be understood: each host's kubelet and containerd logs and its containers. */
  const diagnostics = async () => {
    const parts: string[] = [];
    for (const host of HOSTS) {
      const r = await env.run(
        host,
        [
          "journalctl -u kubelet --no-pager -n 40 2>&1",
          "echo '--- containers'; crictl ps -a 2>&1 | head -20",
          // The newest exited container of each name: why it stopped.
          "for id in $(crictl ps -a --state exited -q 2>/dev/null); do n=$(crictl inspect -o go-template --template '{{.status.metadata.name}}' \"$id\" 2>/dev/null); case \" $seen \" in *\" $n \"*) continue;; esac; seen=\"$seen $n\"; echo \"--- logs of $n\"; crictl logs --tail 15 \"$id\" 2>&1; done",
          "echo '--- containerd'; journalctl -u containerd --no-pager -n 15 2>&1",
        ].join("; "),
      );
      parts.push(`=== ${host}\n${r.stdout}${r.stderr}`);
    }
    const pods = await env.run("cp1", `${KUBECTL} get pods -A -o wide 2>&1; ${KUBECTL} get events -A --sort-by=.lastTimestamp 2>&1 | tail -40`);
    parts.push(`=== pods and events\n${pods.stdout}${pods.stderr}`);
    return parts.join("\n");
  };
  /** Runs a check; when it fails, its error carries the diagnostics. */
  const diagnosed = <T>(p: Promise<T>): Promise<T> =>
    p.catch(async (e: unknown) => {
      throw new Error(`${(e as Error).message}\n\n${await diagnostics()}`);
    });

  beforeAll(async () => {
    requireRoot();
    env = await startTestHosts(HOSTS, { kubernetes: true });
    const v = VERSION.replace(/^v/, "");
    repo = await startFakeAptRepo({ versions: [v], artifacts: { [v]: ARTIFACTS } });
    registry = await startImageRegistry({ artifacts: [ARTIFACTS] });
    const built = builtVersions(ARTIFACTS);
    model = modelFromObject(
      {
        // The test hosts are containers: kube-proxy cannot write nf_conntrack_max (as on LXC hosts).
        kubernetes: { version: v, kubeProxyExtraConfig: { conntrack: { maxPerCore: 0 } } },
        mirrors: {
          kubernetesPackages: repo.baseUrl,
          imageRepository: registry.mirrorOf("registry.k8s.io"),
          addonImageRegistries: Object.fromEntries(["registry.k8s.io", "ghcr.io", "docker.io"].map((r) => [r, registry.mirrorOf(r)])),
          insecureRegistries: [registry.host],
        },
        // The test hosts are containers without CAP_SYS_RESOURCE (this machine's bounding set lacks it).
        runtime: { containerd: { restrictOomScoreAdj: true } },
        hosts: [
          ...CONTROL_PLANES.map((name) => ({ name, address: env.host(name).address, roles: ["control-plane"] })),
          ...WORKERS.map((name) => ({ name, address: env.host(name).address, roles: ["worker"] })),
        ],
        addons: {
          cni: { plugin: "flannel", flannel: { image: `ghcr.io/flannel-io/flannel:${built.flannel}`, cniPluginImage: `ghcr.io/flannel-io/flannel-cni-plugin:${built.flannel_cni}` } },
          // The kubelet CSR approver is not served as a Go module: metrics-server keeps kubeadm's self-signed kubelet certificates.
          metricsServer: { enabled: true, image: `registry.k8s.io/metrics-server/metrics-server:${built.metrics_server}`, kubeletInsecureTls: true },
          storage: { provisioner: "local-path", localPath: { image: `docker.io/rancher/local-path-provisioner:${built.local_path}` } },
        },
      },
      "cluster-tier",
    );
    plan = planCluster(model);
    for (const host of HOSTS) pristine[host] = await state(host);
  }, 900_000);

  afterAll(async () => {
    await registry?.stop();
    await repo?.stop();
    await env?.teardown();
  });

  it("create: every step in plan order, then the add-ons; every node Ready", async () => {
    const started = Date.now();
    const ms = await diagnosed(createAll(env, plan, secrets));
    const stepsDone = Date.now();
    // The add-ons as the program declares them, applied with kubectl: namespaces first.
    const { objects } = await runAddons(model, { preview: false });
    const items = [...objects.values()].map((r) => plain(r.inputs) as { kind: string });
    const rank = (k: string) => (k === "Namespace" ? 0 : k === "CustomResourceDefinition" ? 1 : 2);
    items.sort((a, b) => rank(a.kind) - rank(b.kind));
    await env.writeFile("cp1", "/root/addons.json", JSON.stringify({ apiVersion: "v1", kind: "List", items }));
    await kubectl("apply -f /root/addons.json");
    await diagnosed(
      until("every node Ready", 300_000, async () => {
        const out = await kubectl("get nodes -o jsonpath='{range .items[*]}{.metadata.name}={.status.conditions[?(@.type==\"Ready\")].status} {end}'");
        const ready = out.split(" ").filter((x) => x.endsWith("=True")).length;
        return ready === HOSTS.length;
      }),
    );
    const readyMs = Date.now() - started;
    const versions = await kubectl("get nodes -o jsonpath='{.items[*].status.nodeInfo.kubeletVersion}'");
    expect(versions.split(" ")).toEqual(HOSTS.map(() => VERSION));
    console.log(`[cluster] steps ${((stepsDone - started) / 1000).toFixed(1)} s, all ${HOSTS.length} nodes Ready ${(readyMs / 1000).toFixed(1)} s after the first step`);
    console.log(`[cluster] step durations (ms): ${JSON.stringify(ms)}`);
  });

  it("works: CoreDNS answers, pods on different workers reach each other, a Service answers through kube-proxy, kubectl top nodes", async () => {
    const busybox = `${registry.mirrorOf("docker.io")}/library/busybox:1.36.1`;
    const pod = (name: string, node: string) => ({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name, namespace: "default", labels: { app: "echo" } },
      spec: {
        nodeName: node,
        containers: [{ name: "c", image: busybox, command: ["/bin/busybox", "sh", "-c", `mkdir -p /www && echo ${name} >/www/index.html && exec /bin/busybox httpd -f -p 8080 -h /www`] }],
      },
    });
    const service = { apiVersion: "v1", kind: "Service", metadata: { name: "echo", namespace: "default" }, spec: { selector: { app: "echo" }, ports: [{ port: 80, targetPort: 8080 }] } };
    await env.writeFile("cp1", "/root/workload.json", JSON.stringify({ apiVersion: "v1", kind: "List", items: [pod("echo-w1", "w1"), pod("echo-w2", "w2"), service] }));
    await kubectl("apply -f /root/workload.json");
    await diagnosed(kubectl("wait --for=condition=Ready pod/echo-w1 pod/echo-w2 --timeout=180s"));
    const ipOf = async (name: string) => kubectl(`get pod ${name} -o jsonpath='{.status.podIP}'`);
    const exec = (name: string, cmd: string) => kubectl(`exec ${name} -- /bin/busybox ${cmd}`);
    expect(await exec("echo-w1", `wget -qO- -T 5 http://${await ipOf("echo-w2")}:8080/`)).toBe("echo-w2");
    expect(await exec("echo-w2", `wget -qO- -T 5 http://${await ipOf("echo-w1")}:8080/`)).toBe("echo-w1");
    await until("the Service answers from both pods", 60_000, async () => {
      const seen = new Set<string>();
      for (let i = 0; i < 12; i++) seen.add(await exec("echo-w1", "wget -qO- -T 5 http://echo.default.svc.cluster.local/"));
      return seen.has("echo-w1") && seen.has("echo-w2");
    });
    expect(await exec("echo-w2", "nslookup kubernetes.default.svc.cluster.local")).toContain("10.96.0.1");
    await until("kubectl top nodes lists every node", 240_000, async () => {
      const top = await kubectl("top nodes --no-headers");
      return HOSTS.every((h) => new RegExp(`^${h}\\s+\\d+m`, "m").test(top));
    });
    await kubectl("delete -f /root/workload.json --wait=true");
  });

  it("a second run of every step changes nothing on the hosts or the nodes", async () => {
    const nodes = () => kubectl("get nodes -o jsonpath='{range .items[*]}{.metadata.name}={.metadata.resourceVersion} {end}'");
    const before = await Promise.all(HOSTS.map(state));
    const nodesBefore = await nodes();
    await createAll(env, plan, secrets);
    expect(await Promise.all(HOSTS.map(state))).toEqual(before);
    expect(await nodes()).toBe(nodesBefore);
  });

  it("destroy: every delete in reverse order leaves every host as it was before the first step", async () => {
    await deleteAll(env, plan, secrets);
    for (const host of HOSTS) expect(await state(host), host).toBe(pristine[host]);
  });
});
