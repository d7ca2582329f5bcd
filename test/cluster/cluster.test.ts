/**
 * Cluster tier: a real, highly available Kubernetes cluster on systemd-nspawn test hosts, made by
 * the program's own steps (the exact create and delete strings the engine sends) at the newest
 * release it supports, from binaries and images built from Go modules
 * (scripts/build-k8s-artifacts.sh, run by this tier's globalSetup) and installed only through the
 * program's mirror keys: real signed packages from the local per-minor package repository and
 * images from a real registry on the test bridge.
 *
 * Topology: two HAProxy + keepalived balancers holding the VIP, three control planes (stacked
 * etcd), two workers; later a third worker joins and a new control plane replaces one.
 *
 * Stand-ins that remain (docs/cluster-tests.md): CoreDNS is built at the newest served v1.14 and
 * tagged with the name kubeadm asks for; the flannel CNI plugin comes from containernetworking
 * plugins v0.9.1 (the last release that held it); the kubelet CSR approver is not served, so
 * metrics-server runs with kubeletInsecureTls; the hosts are cgroup v1 containers, not machines.
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { ClusterModel } from "../../components/config";
import { planCluster } from "../../components/plan";
import type { ClusterPlan } from "../../components/remote/step";
import { requireRoot, startTestHosts, type TestHosts } from "../hosts/harness";
import { plain, runAddons } from "../unit/addons-support";
import { applyChange, createAll, deleteAll } from "./run-plan";
import { clusterModel, diagnosed, hostState, kubectlOn, nodeReadiness, startProber, until, startMirrors, stopMirrors, waitNodesReady, webprobeImage, expectRestored, type Mirrors, type Topology } from "./support";

const [VERSION] = inject("kubernetesVersions");
const ARTIFACTS = inject("k8sArtifacts")[VERSION];
const REPORT = process.env.KOP_CLUSTER_REPORT ?? "/tmp/kop-cluster-report.json";
const VIP = "10.213.0.200";
const BASE: Topology = { loadBalancers: ["lb1", "lb2"], vip: VIP, controlPlanes: ["cp1", "cp2", "cp3"], workers: ["w1", "w2"] };
const LATE_CONTROL_PLANE = "cp4";
const LATE_WORKER = "w3";
/** Weeks later: cp4 replaces cp3 (stacked etcd keeps an odd member count) and w3 joins. */
const LATER: Topology = { ...BASE, controlPlanes: ["cp1", "cp2", LATE_CONTROL_PLANE], workers: [...BASE.workers, LATE_WORKER] };
const ALL = [...BASE.loadBalancers!, ...BASE.controlPlanes, LATE_CONTROL_PLANE, ...BASE.workers, LATE_WORKER];
const nodesOf = (t: Topology) => [...t.controlPlanes, ...t.workers];

describe(`a real highly available Kubernetes ${VERSION} cluster from the program's own steps`, () => {
  let env: TestHosts;
  let mirrors: Mirrors;
  let topology: Topology = BASE;
  let model: ClusterModel;
  let plan: ClusterPlan;
  const plans: ClusterPlan[] = [];
  const report: Record<string, unknown> = { version: VERSION };
  const secrets: Record<string, string> = {
    bootstrap_token: `${randomBytes(3).toString("hex")}.${randomBytes(8).toString("hex")}`,
    certificate_key: randomBytes(32).toString("hex"),
    vrrp_auth: randomBytes(4).toString("hex"),
  };
  const pristine: Record<string, string> = {};
  /** Packages the hosts had that apt upgraded for a new dependency (destroy cannot downgrade them). */
  const upgraded: string[] = [];
  const kubectl = (args: string) => kubectlOn(env, "cp1")(args);
  const state = (host: string) => hostState(env, plans, host);
  const withDiagnostics = <T>(p: Promise<T>) => diagnosed(env, ALL, "cp1", p);
  const planFor = (t: Topology) => {
    topology = t;
    model = clusterModel(env, mirrors, ARTIFACTS, VERSION, t);
    const p = planCluster(model);
    plans.push(p);
    return p;
  };

  beforeAll(async () => {
    requireRoot();
    env = await startTestHosts(ALL, { kubernetes: true });
    mirrors = await startMirrors(env, { [VERSION]: ARTIFACTS });
    plan = planFor(BASE);
    // Every plan this scenario uses, so the state covers the late hosts' files too.
    planFor(LATER);
    planFor(BASE);
    for (const host of ALL) pristine[host] = await state(host);
  }, 900_000);

  afterAll(async () => {
    fs.writeFileSync(REPORT, `${JSON.stringify(report, null, 2)}\n`);
    console.log(`[cluster] report ${REPORT}: ${JSON.stringify(report)}`);
    await stopMirrors(mirrors);
    await env?.teardown();
  });

  it("create: every step in plan order, then the add-ons; every node Ready", async () => {
    const started = Date.now();
    const ms = await withDiagnostics(createAll(env, plan, secrets));
    const stepsDone = Date.now();
    // The add-ons as the program declares them, applied with kubectl: namespaces first.
    const { objects } = await runAddons(model, { preview: false });
    const items = [...objects.values()].map((r) => plain(r.inputs) as { kind: string });
    const rank = (k: string) => (k === "Namespace" ? 0 : k === "CustomResourceDefinition" ? 1 : 2);
    items.sort((a, b) => rank(a.kind) - rank(b.kind));
    await env.writeFile("cp1", "/root/addons.json", JSON.stringify({ apiVersion: "v1", kind: "List", items }));
    await kubectl("apply -f /root/addons.json");
    await withDiagnostics(waitNodesReady(kubectl, nodesOf(topology)));
    const readyMs = Date.now() - started;
    const versions = await kubectl("get nodes -o jsonpath='{.items[*].status.nodeInfo.kubeletVersion}'");
    expect(versions.split(" ")).toEqual(nodesOf(topology).map(() => VERSION));
    Object.assign(report, { stepsSeconds: (stepsDone - started) / 1000, allNodesReadySeconds: readyMs / 1000, createStepMs: ms });
    console.log(`[cluster] steps ${((stepsDone - started) / 1000).toFixed(1)} s, all ${nodesOf(topology).length} nodes Ready ${(readyMs / 1000).toFixed(1)} s after the first step`);
  });

  it("works: CoreDNS answers, pods on different workers reach each other, a Service answers through kube-proxy, kubectl top nodes", async () => {
    const image = webprobeImage(mirrors.registry);
    const pod = (name: string, node: string) => ({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name, namespace: "default", labels: { app: "echo" } },
      spec: {
        nodeName: node,
        containers: [{ name: "c", image, command: ["/webprobe", "serve", "8080", name] }],
      },
    });
    const service = { apiVersion: "v1", kind: "Service", metadata: { name: "echo", namespace: "default" }, spec: { selector: { app: "echo" }, ports: [{ port: 80, targetPort: 8080 }] } };
    await env.writeFile("cp1", "/root/workload.json", JSON.stringify({ apiVersion: "v1", kind: "List", items: [pod("echo-w1", "w1"), pod("echo-w2", "w2"), service] }));
    await kubectl("apply -f /root/workload.json");
    await withDiagnostics(kubectl("wait --for=condition=Ready pod/echo-w1 pod/echo-w2 --timeout=180s"));
    const ipOf = async (name: string) => kubectl(`get pod ${name} -o jsonpath='{.status.podIP}'`);
    const exec = (name: string, cmd: string) => kubectl(`exec ${name} -- /webprobe ${cmd}`);
    expect(await exec("echo-w1", `get http://${await ipOf("echo-w2")}:8080/`)).toBe("echo-w2");
    expect(await exec("echo-w2", `get http://${await ipOf("echo-w1")}:8080/`)).toBe("echo-w1");
    await withDiagnostics(
      until("the Service answers from both pods", 90_000, async () => {
        const seen = new Set<string>();
        for (let i = 0; i < 12; i++) seen.add(await exec("echo-w1", "get http://echo.default.svc.cluster.local/"));
        return seen.has("echo-w1") && seen.has("echo-w2");
      }),
    );
    expect(await exec("echo-w2", "lookup kubernetes.default.svc.cluster.local")).toBe("10.96.0.1");
    await withDiagnostics(
      until("kubectl top nodes lists every node", 240_000, async () => {
        const top = await kubectl("top nodes --no-headers");
        return nodesOf(topology).every((h) => new RegExp(`^${h}\\s+\\d+m`, "m").test(top));
      }),
    );
    await kubectl("delete -f /root/workload.json --wait=true");
  });

  it("storage: a claim on the default storage class is provisioned on the node its pod runs on", async () => {
    const claim = { apiVersion: "v1", kind: "PersistentVolumeClaim", metadata: { name: "data", namespace: "default" }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "16Mi" } } } };
    const writer = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "writer", namespace: "default" },
      spec: {
        // Scheduled, not placed: the local-path class binds the claim once the scheduler picks a node.
        nodeSelector: { "kubernetes.io/hostname": "w2" },
        containers: [{ name: "c", image: webprobeImage(mirrors.registry), command: ["/webprobe", "serve", "8080", "writer"], volumeMounts: [{ name: "data", mountPath: "/data" }] }],
        volumes: [{ name: "data", persistentVolumeClaim: { claimName: "data" } }],
      },
    };
    await env.writeFile("cp1", "/root/storage.json", JSON.stringify({ apiVersion: "v1", kind: "List", items: [claim, writer] }));
    await kubectl("apply -f /root/storage.json");
    await withDiagnostics(kubectl("wait --for=condition=Ready pod/writer --timeout=180s"));
    expect(await kubectl("get pvc data -o jsonpath='{.status.phase}'")).toBe("Bound");
    const volume = await kubectl("get pvc data -o jsonpath='{.spec.volumeName}'");
    expect((await env.run("w2", `ls -d /opt/local-path-provisioner/${volume}_default_data`)).code).toBe(0);
    await kubectl("delete -f /root/storage.json --wait=true");
  });

  it("a second run of every step changes nothing on the hosts or the nodes", async () => {
    // What the steps write on Node objects (labels, taints, and the writes of kubectl and kubeadm
    // with their times); a resourceVersion also moves with the kubelet's own status reports.
    const nodes = async () =>
      (JSON.parse(await kubectl("get nodes -o json")) as { items: Array<{ metadata: { name: string; labels: unknown; managedFields?: Array<{ manager: string; operation: string; time: string }> }; spec: unknown }> }).items.map((n) => ({
        name: n.metadata.name,
        labels: n.metadata.labels,
        spec: n.spec,
        writes: (n.metadata.managedFields ?? []).filter((f) => /^(kubectl|kubeadm)/.test(f.manager)).map((f) => `${f.manager} ${f.operation} ${f.time}`),
      }));
    const files = (host: string) => hostState(env, plans, host, false);
    const before = await Promise.all(ALL.map(files));
    const nodesBefore = await nodes();
    await createAll(env, plan, secrets);
    expect(await Promise.all(ALL.map(files))).toEqual(before);
    expect(await nodes()).toEqual(nodesBefore);
  });

  it("faults: HAProxy stopped on the active balancer, then a control plane powered off; the API through the VIP comes back, etcd keeps quorum, no write is lost", async () => {
    const prober = startProber(`https://${VIP}:${model.endpoint.port}/readyz`);
    try {
      await until("the API answers through the VIP", 60_000, async () => prober.result().failures === 0 || (prober.reset(), false), 3000);
      // 1. HAProxy stops on the balancer holding the VIP: keepalived's check moves the VIP.
      const holders = [];
      for (const lb of topology.loadBalancers!) if ((await env.run(lb, `ip -4 -o addr show dev host0 | grep -q ' ${VIP}/'`)).code === 0) holders.push(lb);
      expect(holders, "exactly one balancer holds the VIP").toHaveLength(1);
      prober.reset();
      await env.run(holders[0], "systemctl stop haproxy");
      await new Promise((r) => setTimeout(r, 15_000));
      const haproxyGap = prober.result();
      await env.run(holders[0], "systemctl start haproxy");
      // 2. A control plane goes down: writes go on (2 of 3 etcd members), nothing written is lost.
      const written: string[] = [];
      const write = async (name: string) => {
        const r = await env.run("cp1", `${"kubectl --kubeconfig /etc/kubernetes/admin.conf"} create configmap ${name} --from-literal=at=${Date.now()}`, { timeoutMs: 20_000 });
        if (r.code === 0) written.push(name);
        return r.code === 0;
      };
      expect(await write("fault-before")).toBe(true);
      prober.reset();
      await env.stopHost("cp3");
      let duringOk = 0;
      for (let i = 0; i < 10; i++) {
        if (await write(`fault-during-${i}`)) duringOk++;
        await new Promise((r) => setTimeout(r, 1500));
      }
      const powerOffGap = prober.result();
      expect(duringOk, "writes while cp3 is down (etcd keeps quorum with 2 of 3)").toBeGreaterThanOrEqual(8);
      await env.startHost("cp3");
      await withDiagnostics(waitNodesReady(kubectl, ["cp3"], 240_000));
      await until("the API answers through the VIP again", 60_000, async () => (prober.reset(), await new Promise((r) => setTimeout(r, 2000)), prober.result().failures === 0), 1000);
      const stored = (await kubectl("get configmaps -o name")).split("\n").map((l) => l.replace("configmap/", ""));
      for (const name of written) expect(stored, `write ${name} kept`).toContain(name);
      await kubectl(`delete configmap ${written.join(" ")}`);
      report.faults = { haproxyStopped: { balancer: holders[0], ...haproxyGap }, controlPlanePoweredOff: { host: "cp3", writesDuring: duringOk, ...powerOffGap } };
      console.log(`[cluster] longest API gap through the VIP: HAProxy stopped on ${holders[0]} ${haproxyGap.longestGapMs} ms, cp3 powered off ${powerOffGap.longestGapMs} ms`);
      expect(haproxyGap.longestGapMs, "API gap when HAProxy stops on the active balancer").toBeLessThan(15_000);
      expect(powerOffGap.longestGapMs, "API gap when a control plane powers off").toBeLessThan(15_000);
    } finally {
      await prober.stop();
    }
  });

  it("weeks later, with no manual step: a worker joins after the bootstrap tokens expired, a new control plane replaces cp3 after the uploaded certificates expired", async () => {
    // What time does to a cluster: bootstrap tokens expire (24 h) and kubeadm-certs with them (2 h).
    await kubectl("-n kube-system delete secret --field-selector type=bootstrap.kubernetes.io/token");
    await kubectl("-n kube-system delete secret kubeadm-certs --ignore-not-found");
    const before = plan;
    plan = planFor(LATER);
    const { change, ms } = await withDiagnostics(applyChange(env, before, plan, secrets));
    for (const host of [LATE_WORKER, LATE_CONTROL_PLANE]) expect([...change.apply].some((id) => id.startsWith(`${host}/`)), host).toBe(true);
    // Only cp3's steps go (some of a node's steps run on the first control plane, named after the node).
    expect(change.remove.filter((s) => s.host !== "cp3" && !s.id.includes("cp3")).map((s) => s.id)).toEqual([]);
    await withDiagnostics(waitNodesReady(kubectl, nodesOf(topology)));
    expect(Object.keys(await nodeReadiness(kubectl)).sort()).toEqual(nodesOf(topology).sort());
    // cp3 left etcd with its node (kubeadm reset removes its member): writes still work, the host is as it was.
    await kubectl("create configmap after-replacement --from-literal=ok=1");
    await kubectl("delete configmap after-replacement");
    upgraded.push(...(await expectRestored(env, "cp3", pristine.cp3, await state("cp3"))));
    report.lateJoinStepMs = ms;
    report.lateJoinChangedSteps = [...change.apply];
  });

  it("a worker removed: drained, its Node object gone, the host as it was", async () => {
    const before = plan;
    plan = planFor({ ...topology, workers: BASE.workers });
    const { change, ms } = await withDiagnostics(applyChange(env, before, plan, secrets));
    expect(change.remove.length).toBeGreaterThan(0);
    expect(change.remove.filter((s) => s.host !== LATE_WORKER && !s.id.includes(LATE_WORKER)).map((s) => s.id)).toEqual([]);
    expect(Object.keys(await nodeReadiness(kubectl))).not.toContain(LATE_WORKER);
    upgraded.push(...(await expectRestored(env, LATE_WORKER, pristine[LATE_WORKER], await state(LATE_WORKER))));
    report.workerRemovalStepMs = ms;
  });

  it("destroy: every delete in reverse order leaves every host as it was before the first step", async () => {
    report.destroyStepMs = await deleteAll(env, plan.steps, secrets);
    for (const host of ALL) upgraded.push(...(await expectRestored(env, host, pristine[host], await state(host))));
    report.upgradedDependencies = upgraded;
  });
});
