import * as pulumi from "@pulumi/pulumi";
import { MockMonitor } from "@pulumi/pulumi/runtime/mocks";
import { describe, expect, it } from "vitest";
import { loadStackFile, type ClusterModel } from "../../components/config";
import { isSecretValue, reveal, type ResourceGraph } from "../../scripts/lib/mock-program";
import { haSection, model } from "./fixtures";
import { changedParts, clusterGraph, nodePrepParts, stepScripts } from "./mock-cluster";

/**
 * The kubeadm layers under Pulumi mocks: the ordering the engine sees, and what `pulumi preview`
 * plans for the lifecycle changes (added, removed and changed resources, with the engine's
 * ignoreChanges applied as it would be).
 */

// The options the engine would apply to each resource's diff (the shared recorder keeps inputs only).
const ignoreChangesByName = new Map<string, string[]>();
const monitor = MockMonitor.prototype as unknown as { registerResource(req: any, cb: any): Promise<void> };
const recordInputs = monitor.registerResource;
monitor.registerResource = function (this: unknown, req: any, cb: any) {
  ignoreChangesByName.set(req.getName(), req.getIgnorechangesList());
  return recordInputs.call(this, req, cb);
};

interface PreviewPlan {
  create: string[];
  delete: string[];
  update: string[];
}

/** Graphs are costly under mocks: one per distinct model. */
const graphs = new Map<string, ReturnType<typeof clusterGraph>>();
function graphOf(m: ClusterModel): ReturnType<typeof clusterGraph> {
  const key = JSON.stringify(m);
  if (!graphs.has(key)) graphs.set(key, clusterGraph(m));
  return graphs.get(key)!;
}

/**
 * What preview would plan going from `before` to `after`: inputs compared except the ignored ones.
 * A host's node-prep is listed as the parts that will run on the host: all of them when it is
 * created or deleted, the ones whose script changed when it is updated (the others skip).
 */
async function preview(before: ClusterModel, after: ClusterModel): Promise<PreviewPlan & { after: ResourceGraph }> {
  const a = await graphOf(before);
  const b = await graphOf(after);
  const comparable = (r: ResourceGraph["resources"][number]) => {
    const ignored = new Set(ignoreChangesByName.get(r.name) ?? []);
    return JSON.stringify(Object.fromEntries(Object.entries(r.inputs).filter(([k]) => !ignored.has(k))));
  };
  const old = new Map(a.custom.map((r) => [r.name, comparable(r)]));
  const now = new Map(b.custom.map((r) => [r.name, comparable(r)]));
  const host = (n: string) => n.slice(0, -"/node-prep".length);
  const allParts = (g: ResourceGraph, n: string) => (n.endsWith("/node-prep") ? [...nodePrepParts(g, n).keys()].map((p) => `${host(n)}/${p}`) : [n]);
  const rerunParts = (n: string): string[] => (n.endsWith("/node-prep") ? changedParts(a, b, n).map((p) => `${host(n)}/${p}`) : [n]);
  return {
    create: [...now.keys()].filter((n) => !old.has(n)).flatMap((n) => allParts(b, n)).sort(),
    delete: [...old.keys()].filter((n) => !now.has(n)).flatMap((n) => allParts(a, n)).sort(),
    update: [...now.keys()].filter((n) => old.has(n) && old.get(n) !== now.get(n)).flatMap(rerunParts).sort(),
    after: b,
  };
}

const KUBEADM_STEP = /\/(kubeadm-config|kubeadm-init|cluster-ca-hash|admin-kubeconfig|node-upgrader|admit|worker-admission|kubeadm-join|node|node-labels|kubeadm-upgrade)$/;
/** Steps ("<owner>/<step>") and the guard; the drift layer's per-file resources ("<host>/etc/...") follow their step. */
const stepsOnly = (names: string[]) => names.filter((n) => /^[^/]+\/[^/]+$/.test(n) || n === "lifecycle-guard");
const kubeadmOnly = (names: string[]) => names.filter((n) => KUBEADM_STEP.test(n) || n === "lifecycle-guard");
const withVersion = (section: Record<string, any>, version: string) => ({ ...section, kubernetes: { ...section.kubernetes, version } });
/** The script a step's create or delete runs (it travels on the step's stdin). */
const command = (g: ResourceGraph, name: string, which: "create" | "delete") => stepScripts(g.byName(name))[which];

describe("kubeadm ordering under Pulumi mocks", () => {
  it("runs kubeadm init after the runtime, the packages, the load balancer and external etcd (prod stack)", async () => {
    const m = loadStackFile("prod");
    const graph = await graphOf(m);
    const ancestors = graph.ancestorsOf("prod-cp1/kubeadm-init");
    // node-prep: os-prep, hosts-file, runtime, packages, kubeadm-config.
    for (const step of ["prod-cp1/node-prep", "prod-cp1/etcd-client-certs"]) {
      expect(ancestors, step).toContain(step);
    }
    for (const lb of ["prod-lb1", "prod-lb2"]) expect(ancestors).toContain(`${lb}/keepalived-config`);
    for (const member of ["prod-etcd1", "prod-etcd2", "prod-etcd3"]) expect(ancestors).toContain(`${member}/etcd-member`);
    expect([...ancestors].some((a) => a.startsWith("prod-w"))).toBe(false);
  });

  it("joins control planes one at a time, each after the one before", async () => {
    const graph = await graphOf(model(haSection(1)));
    expect(graph.dependenciesOf("cp2/admit")).toContain("cp1/kubeadm-init");
    expect(graph.dependenciesOf("cp3/admit")).toContain("cp2/kubeadm-join");
    expect(graph.ancestorsOf("cp3/kubeadm-join")).toContain("cp2/kubeadm-join");
    expect(graph.ancestorsOf("cp2/kubeadm-join")).not.toContain("cp3/kubeadm-join");
  });

  it("joins workers in parallel, once the control planes are joined and at the cluster's version", async () => {
    const graph = await graphOf(model(haSection(3)));
    for (const w of ["w1", "w2", "w3"]) {
      expect(stepsOnly(graph.dependenciesOf(`${w}/kubeadm-join`)).sort()).toEqual(
        [`${w}/node-prep`, "cp1/worker-admission", "cp1/cluster-ca-hash", "cp1/node-upgrader", "cp3/kubeadm-upgrade", "lifecycle-guard"].sort(),
      );
      expect(stepsOnly(graph.dependenciesOf("cp1/worker-admission")).sort()).toEqual(["cp1/kubeadm-init", "lifecycle-guard"]);
      const ancestors = [...graph.ancestorsOf(`${w}/kubeadm-join`)];
      expect(ancestors).toEqual(expect.arrayContaining(["cp2/kubeadm-join", "cp3/kubeadm-join", "cp1/kubeadm-upgrade", "cp2/kubeadm-upgrade"]));
      expect(ancestors.filter((a) => /^w\d\//.test(a) && !a.startsWith(`${w}/`))).toEqual([]);
    }
    // Two kubeadm resources per worker (its configuration is a node-prep part) and one admission for all of them.
    expect(graph.custom.filter((r) => r.name.startsWith("w1/") && KUBEADM_STEP.test(r.name)).map((r) => r.name).sort()).toEqual(["w1/kubeadm-join", "w1/node"]);
    expect(graph.custom.filter((r) => r.name.endsWith("/admit")).map((r) => r.name).sort()).toEqual(["cp2/admit", "cp3/admit"]);
  });

  it("drains workers while every control plane is still there: their drain steps wait for the last control-plane join", async () => {
    const graph = await graphOf(model(haSection(2)));
    expect(graph.dependenciesOf("w1/node")).toEqual(expect.arrayContaining(["w1/kubeadm-join", "cp3/kubeadm-join"]));
    expect(graph.dependenciesOf("cp3/node")).toContain("cp3/kubeadm-join");
    // On removal the engine deletes dependents first: drain (node), then reset and the Node object (join).
    expect(graph.dependenciesOf("cp2/kubeadm-join")).toContain("cp2/admit");
  });

  it("makes every kubeadm step wait for the lifecycle guard", async () => {
    const graph = await graphOf(model(haSection(1)));
    const guarded = graph.custom.filter((r) => KUBEADM_STEP.test(r.name));
    expect(guarded.length).toBeGreaterThan(15);
    for (const r of guarded) expect(graph.dependenciesOf(r.name), r.name).toContain("lifecycle-guard");
    expect(graph.byName("lifecycle-guard").type).toBe("pulumi-nodejs:dynamic:Resource");
  });

  it("upgrades the first control plane, then the others one at a time, then the workers (not ordered against each other)", async () => {
    const graph = await graphOf(model(haSection(3)));
    expect(graph.dependenciesOf("cp2/kubeadm-upgrade")).toContain("cp1/kubeadm-upgrade");
    expect(graph.dependenciesOf("cp3/kubeadm-upgrade")).toContain("cp2/kubeadm-upgrade");
    // A worker's upgrade is the end of its join step.
    for (const w of ["w1", "w2", "w3"]) {
      expect(graph.dependenciesOf(`${w}/kubeadm-join`)).toEqual(expect.arrayContaining(["cp3/kubeadm-upgrade", "cp1/node-upgrader"]));
      expect(command(graph, `${w}/kubeadm-join`, "create")).toContain(`kop_slot_acquire '${w}'`);
    }
  });

  it("builds the kubernetes provider from the secret kubeconfig the first control plane reads back", async () => {
    const graph = await graphOf(model(haSection(1)));
    const provider = graph.custom.find((r) => r.type === "pulumi:providers:kubernetes")!;
    expect(isSecretValue(provider.inputs.kubeconfig)).toBe(true);
    expect(graph.dependenciesOf(provider.name)).toContain("cp1/admin-kubeconfig");
    expect(await pulumi.isSecret(graph.result.kubeconfig)).toBe(true);
    expect(graph.result.nodesJoined.length).toBe(4);
  });
});

describe("what pulumi preview plans for lifecycle changes", () => {
  it("adding a worker: that worker's resources, and the workers' bootstrap token made valid for 24 hours again", async () => {
    const plan = await preview(model(haSection(3)), model(haSection(4)));
    expect(plan.update).toEqual(["cp1/worker-admission"]);
    expect(plan.delete).toEqual([]);
    expect(kubeadmOnly(plan.create)).toEqual(["w4/kubeadm-config", "w4/kubeadm-join", "w4/node"]);
    expect(plan.create.every((n) => n.startsWith("w4/"))).toBe(true);
  });

  it("adding control planes: their chained joins, and the certSANs in the control planes' kubeadm.yaml; no init, join or upgrade re-runs", async () => {
    const more = haSection(1);
    more.hosts.push({ name: "cp4", address: "10.0.0.14", roles: ["control-plane"] }, { name: "cp5", address: "10.0.0.15", roles: ["control-plane"] });
    const plan = await preview(model(haSection(1)), model(more));
    expect(plan.delete).toEqual([]);
    expect(kubeadmOnly(plan.update)).toEqual(["cp1/kubeadm-config", "cp2/kubeadm-config", "cp3/kubeadm-config", "lifecycle-guard"]);
    const created = kubeadmOnly(plan.create);
    for (const cp of ["cp4", "cp5"]) {
      for (const step of ["admit", "kubeadm-config", "kubeadm-join", "kubeadm-upgrade", "node"]) expect(created).toContain(`${cp}/${step}`);
      expect(created).not.toContain(`${cp}/node-labels`);
    }
    expect(plan.after.dependenciesOf("cp4/admit")).toContain("cp3/kubeadm-join");
    expect(plan.after.dependenciesOf("cp5/admit")).toContain("cp4/kubeadm-join");
    expect(plan.after.dependenciesOf("cp4/kubeadm-upgrade")).toContain("cp3/kubeadm-upgrade");
  });

  it("changing a worker's labels and taints re-runs only its node step on the first control plane (its drain stays as it was) and its join file", async () => {
    const labelled = haSection(3);
    labelled.hosts = labelled.hosts.map((h: { name: string }) => (h.name === "w2" ? { ...h, labels: { tier: "web" }, taints: [{ key: "dedicated", value: "web", effect: "NoSchedule" }] } : h));
    const before = await graphOf(model(haSection(3)));
    const plan = await preview(model(haSection(3)), model(labelled));
        // The join file carries the taints too (nodeRegistration.taints), for a later re-join.
    expect([plan.create, plan.delete, plan.update]).toEqual([[], [], ["w2/kubeadm-config", "w2/node"]]);
    expect(command(plan.after, "w2/node", "create")).toContain("kop_node_labels 'w2' 'tier=web'");
    expect(command(plan.after, "w2/node", "create")).toContain("kop_node_taints 'w2' 'dedicated=web:NoSchedule'");
    expect(command(plan.after, "w2/node", "delete")).toBe(command(before, "w2/node", "delete"));
  });

  it("removing a worker: only its resources go, and their deletes drain, reset and delete the Node object", async () => {
    const before = await graphOf(model(haSection(3)));
    const plan = await preview(model(haSection(3)), model(haSection(2)));
    expect(plan.update).toEqual(["cp1/worker-admission"]);
    expect(plan.create).toEqual([]);
    expect(plan.delete.every((n) => n.startsWith("w3/"))).toBe(true);
    expect(kubeadmOnly(plan.delete)).toEqual(["w3/kubeadm-config", "w3/kubeadm-join", "w3/node"]);
    expect(command(before, "w3/node", "delete")).toContain("kop_drain_for_removal 'w3' 300");
    const reset = command(before, "w3/kubeadm-join", "delete");
    expect(reset).toContain("kop_teardown 'unix:///run/containerd/containerd.sock' ''");
    expect(reset.indexOf('kop_kubectl delete node "$node" --ignore-not-found')).toBeGreaterThan(reset.indexOf("kop_teardown '"));
    expect(reset).toContain("KOP_KUBECONFIG_SECRET=SECRET_node_upgrader_kubeconfig");
    // /var/lib/kubelet or the etcd directory on a disk of their own is emptied, not removed (EBUSY).
    expect(reset).toContain('if mountpoint -q "$dir" 2>/dev/null; then find "$dir" -mindepth 1 -maxdepth 1 -exec rm -rf {} +; else rm -rf "$dir"; fi');
  });

  it("a version bump: the guard, the upgrade steps and the kubeadm config files; the package parts leave installed packages; nothing joins, resets or drains", async () => {
    const plan = await preview(model(haSection(2)), model(withVersion(haSection(2), "1.30.9")));
    expect(plan.create).toEqual([]);
    expect(plan.delete).toEqual([]);
    const upgrade = (n: string) => (n.startsWith("w") ? `${n}/kubeadm-join` : `${n}/kubeadm-upgrade`);
    const nodes = ["cp1", "cp2", "cp3", "w1", "w2"];
    expect(stepsOnly(plan.update)).toEqual([...nodes.flatMap((n) => [`${n}/kube-packages`, `${n}/kubeadm-config`, upgrade(n)]), "lifecycle-guard"].sort());
    // A worker's join re-runs in place for its upgrade: the join is done once, and the reset (its delete) is unchanged.
    const before = await graphOf(model(haSection(2)));
    expect(command(plan.after, "w1/kubeadm-join", "delete")).toBe(command(before, "w1/kubeadm-join", "delete"));
    expect(command(plan.after, "w1/kubeadm-join", "create")).toMatch(/if \[ -f "\$KOP_STATE\/kubeadm-join.done" \]; then\n\s*kop_log "w1 has joined"\nelse/);
    // The package part re-runs inside node-prep, but installs only where kubeadm, kubelet and kubectl are missing.
    const prep = command(plan.after, "w1/node-prep", "create");
    const packages = prep.slice(prep.indexOf("kop_part 'kube-packages'"));
    expect(packages).toMatch(/if kop_pkg_installed kubeadm && kop_pkg_installed kubelet && kop_pkg_installed kubectl; then\n\s*kop_log "kubeadm, kubelet and kubectl are installed/);
    expect(command(plan.after, "cp1/kubeadm-upgrade", "create")).toContain('kubeadm upgrade apply "v$target" --yes');
  });

  it("crossing to kubeadm v1beta4 (1.30 -> 1.31) also rewrites the workers' join.yaml, still without re-running a join", async () => {
    const plan = await preview(model(withVersion(haSection(1), "1.30.9")), model(withVersion(haSection(1), "1.31.4")));
    expect(kubeadmOnly(plan.update).filter((n) => n.startsWith("w1/"))).toEqual(["w1/kubeadm-config", "w1/kubeadm-join"]);
    expect(plan.update.filter((n) => /kubeadm-init$|cp\d\/kubeadm-join$|\/(admit|node)$/.test(n))).toEqual([]);
  });

  it("an image mirror change: the control planes' kubeadm.yaml and upgrade steps, and the runtime's sandbox image; workers' kubeadm steps stay", async () => {
    const mirror = haSection(2);
    mirror.mirrors = { imageRepository: "registry.example.com/k8s" };
    const plan = await preview(model(haSection(2)), model(mirror));
    expect(plan.create).toEqual([]);
    expect(plan.delete).toEqual([]);
    expect(kubeadmOnly(plan.update)).toEqual(["cp1/kubeadm-config", "cp1/kubeadm-upgrade", "cp2/kubeadm-config", "cp2/kubeadm-upgrade", "cp3/kubeadm-config", "cp3/kubeadm-upgrade"]);
    expect(stepsOnly(plan.update).filter((n) => !KUBEADM_STEP.test(n)).every((n) => n.endsWith("/runtime-config"))).toBe(true);
  });

  it("a package mirror change: the upgrade steps rewrite the repository; the package parts leave installed packages", async () => {
    const mirror = haSection(1);
    mirror.mirrors = { kubernetesPackages: "https://mirror.example.com/kubernetes" };
    const plan = await preview(model(haSection(1)), model(mirror));
    expect(stepsOnly(plan.update)).toEqual(["cp1", "cp2", "cp3", "w1"].flatMap((n) => [`${n}/kube-packages`, `${n}/kubeadm-${n.startsWith("w") ? "join" : "upgrade"}`]));
  });

  it("keeps the bootstrap token and the certificate key out of every command and plain output", async () => {
    const graph = await graphOf(model(haSection(2)));
    const token = "mockedsecretvalue.mockedsecretvalue";
    const key = "00".repeat(32);
    for (const r of graph.custom.filter((c) => c.type === "command:remote:Command")) {
      const scripts = stepScripts(r);
      for (const [field, text] of [
        ["create", String(reveal(r.inputs.create))],
        ["update", String(reveal(r.inputs.update) ?? "")],
        ["delete", String(reveal(r.inputs.delete) ?? "")],
        ["create script", scripts.create],
        ["delete script", scripts.delete],
      ]) {
        expect(text.includes("mockedsecretvalue") || text.includes(key), `${r.name}: ${field}`).toBe(false);
      }
    }
    for (const name of ["cp1/kubeadm-init", "cp2/kubeadm-join", "w1/kubeadm-join", "cp1/worker-admission", "cp2/admit"]) {
      const r = graph.byName(name);
      expect(isSecretValue(r.inputs.stdin), name).toBe(true);
      expect(r.inputs.logging, name).toBe("none");
    }
    const stdin = String(reveal(graph.byName("cp2/kubeadm-join").inputs.stdin));
    expect(stdin).toContain(`bootstrap_token=${Buffer.from(token).toString("base64")}`);
    // Steps without secrets keep their logs: an upgrade is readable in pulumi's output.
    expect(graph.byName("cp1/kubeadm-upgrade").inputs.logging).toBeUndefined(); // the provider's default: stdoutAndStderr
    expect(await pulumi.isSecret(graph.result.secrets.admin_kubeconfig)).toBe(true);
  });
});
