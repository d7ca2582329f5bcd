/**
 * Cluster tier: an upgrade from the previous minor to the newest release the program supports, as
 * `pulumi up` runs it after cluster:kubernetes.version changes: the steps whose scripts changed,
 * in plan order (the first control plane's kubeadm upgrade apply, then the workers, each drained
 * while holding an upgrade slot). A Deployment with a PodDisruptionBudget answers through a
 * NodePort the whole time. Real binaries of both releases, built from Go modules (globalSetup),
 * through the program's mirror keys; stand-ins as in cluster.test.ts (docs/cluster-tests.md).
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { ClusterModel } from "../../components/config";
import { planCluster } from "../../components/plan";
import type { ClusterPlan } from "../../components/remote/step";
import { requireRoot, startTestHosts, type TestHosts } from "../hosts/harness";
import { plain, runAddons } from "../unit/addons-support";
import { applyChange, createAll, deleteAll } from "./run-plan";
import { clusterModel, diagnosed, hostState, kubectlOn, longestJointGapMs, startProber, startMirrors, stopMirrors, waitNodesReady, webprobeImage, expectRestored, type Mirrors, type Topology } from "./support";

const [NEWEST, PREVIOUS] = inject("kubernetesVersions");
const ARTIFACTS = inject("k8sArtifacts");
const TOPOLOGY: Topology = { controlPlanes: ["ucp1"], workers: ["uw1", "uw2"] };
const HOSTS = [...TOPOLOGY.controlPlanes, ...TOPOLOGY.workers];
const NODE_PORT = 30080;

describe(`an upgrade from Kubernetes ${PREVIOUS} to ${NEWEST} with the program's own steps`, () => {
  let env: TestHosts;
  let mirrors: Mirrors;
  let model: ClusterModel;
  const plans: ClusterPlan[] = [];
  const secrets: Record<string, string> = {
    bootstrap_token: `${randomBytes(3).toString("hex")}.${randomBytes(8).toString("hex")}`,
    certificate_key: randomBytes(32).toString("hex"),
  };
  const pristine: Record<string, string> = {};
  const kubectl = (args: string) => kubectlOn(env, "ucp1")(args);
  const withDiagnostics = <T>(p: Promise<T>) => diagnosed(env, HOSTS, "ucp1", p);
  const planAt = (version: string) => {
    model = clusterModel(env, mirrors, ARTIFACTS[version], version, TOPOLOGY);
    const p = planCluster(model);
    plans.push(p);
    return p;
  };

  beforeAll(async () => {
    requireRoot();
    expect(PREVIOUS, "test/cluster/kubernetes-versions names the previous minor second").toBeDefined();
    env = await startTestHosts(HOSTS, { kubernetes: true });
    mirrors = await startMirrors(env, { [PREVIOUS]: ARTIFACTS[PREVIOUS], [NEWEST]: ARTIFACTS[NEWEST] });
    planAt(NEWEST);
    planAt(PREVIOUS);
    for (const host of HOSTS) pristine[host] = await hostState(env, plans, host);
  }, 900_000);

  afterAll(async () => {
    await stopMirrors(mirrors);
    await env?.teardown();
  });

  it(`builds the cluster at ${PREVIOUS}, upgrades it to ${NEWEST} while a Deployment with a PodDisruptionBudget stays available, then destroys it`, async () => {
    const old = plans[1];
    await withDiagnostics(createAll(env, old, secrets));
    const { objects } = await runAddons(model, { preview: false });
    const items = [...objects.values()].map((r) => plain(r.inputs) as { kind: string }).sort((a, b) => Number(b.kind === "Namespace") - Number(a.kind === "Namespace"));
    await env.writeFile("ucp1", "/root/addons.json", JSON.stringify({ apiVersion: "v1", kind: "List", items }));
    await kubectl("apply -f /root/addons.json");
    await withDiagnostics(waitNodesReady(kubectl, HOSTS));

    const labels = { app: "web" };
    const web = [
      {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "web", namespace: "default" },
        spec: {
          replicas: 2,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: {
              topologySpreadConstraints: [{ maxSkew: 1, topologyKey: "kubernetes.io/hostname", whenUnsatisfiable: "ScheduleAnyway", labelSelector: { matchLabels: labels } }],
              containers: [
                {
                  name: "c",
                  image: webprobeImage(mirrors.registry),
                  command: ["/webprobe", "serve", "8080", "web"],
                  readinessProbe: { httpGet: { path: "/", port: 8080 }, periodSeconds: 1 },
                },
              ],
            },
          },
        },
      },
      { apiVersion: "policy/v1", kind: "PodDisruptionBudget", metadata: { name: "web", namespace: "default" }, spec: { minAvailable: 1, selector: { matchLabels: labels } } },
      { apiVersion: "v1", kind: "Service", metadata: { name: "web", namespace: "default" }, spec: { type: "NodePort", selector: labels, ports: [{ port: 80, targetPort: 8080, nodePort: NODE_PORT }] } },
    ];
    await env.writeFile("ucp1", "/root/web.json", JSON.stringify({ apiVersion: "v1", kind: "List", items: web }));
    await kubectl("apply -f /root/web.json");
    await withDiagnostics(kubectl("rollout status deployment/web --timeout=180s"));

    // Availability: any node's NodePort answering counts (each forwards to every ready pod).
    const probers = HOSTS.map((h) => startProber(`http://${env.host(h).address}:${NODE_PORT}/`, 500));
    const upgradeStarted = Date.now();
    try {
      const { change, ms } = await withDiagnostics(applyChange(env, old, plans[0], secrets));
      const upgradeSeconds = (Date.now() - upgradeStarted) / 1000;
      const gaps = probers.map((p) => p.result());
      const jointGapMs = longestJointGapMs(probers);
      console.log(`[cluster] upgrade ${PREVIOUS} -> ${NEWEST}: ${upgradeSeconds.toFixed(1)} s, ${change.apply.size} steps ran; longest time with no NodePort answering ${jointGapMs} ms; per node ${JSON.stringify(Object.fromEntries(HOSTS.map((h, i) => [h, gaps[i]])))}; steps ${JSON.stringify(ms)}`);
      await withDiagnostics(waitNodesReady(kubectl, HOSTS));
      const versions = await kubectl("get nodes -o jsonpath='{.items[*].status.nodeInfo.kubeletVersion}'");
      expect(versions.split(" ")).toEqual(HOSTS.map(() => NEWEST));
      expect(await kubectl("get --raw /version")).toContain(`"gitVersion": "${NEWEST}"`);
      // Some NodePort answered at every moment (within 3 s): the PodDisruptionBudget held while each
      // worker drained. Each node's own NodePort may pause while that node is upgraded.
      expect(jointGapMs, "the Deployment stayed available through some node").toBeLessThan(3000);
    } finally {
      for (const p of probers) await p.stop();
    }
    await kubectl("delete -f /root/web.json --wait=true");

    await deleteAll(env, plans[0].steps, secrets);
    for (const host of HOSTS) await expectRestored(env, host, pristine[host], await hostState(env, plans, host));
  });
});
