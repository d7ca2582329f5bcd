import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { loadStackFile } from "../../components/config";
import { planEngine } from "../../components/plan";
import { isSecretValue } from "../../scripts/lib/mock-program";
import { haSection, model } from "./fixtures";
import { changedParts, clusterGraph, graphDiff, nodePrepParts } from "./mock-cluster";

describe("cluster graph under Pulumi mocks", () => {
  it("prepares each host in one node-prep step: os-prep, hosts file, runtime install and config, packages, kubeadm files, in that order", async () => {
    const m = model(haSection(2));
    const graph = await clusterGraph(m);
    for (const host of m.nodes) {
      expect([...nodePrepParts(graph, `${host.name}/node-prep`).keys()]).toEqual(["os-prep", "hosts-file", "runtime-install", "runtime-config", "kube-packages", "kubeadm-config"]);
      const kubeadm = host.name === "cp1" ? "cp1/kubeadm-init" : `${host.name}/kubeadm-join`;
      expect(graph.dependenciesOf(kubeadm)).toContain(`${host.name}/node-prep`);
      for (const part of ["os-prep", "runtime-install", "kube-packages"]) expect(graph.has(`${host.name}/${part}`)).toBe(false);
    }
    // Balancers are prepared but get no runtime or Kubernetes packages.
    expect([...nodePrepParts(graph, "lb1/node-prep").keys()]).toEqual(["os-prep", "hosts-file"]);
    expect(graph.dependenciesOf("lb1/lb-install")).toEqual(["lb1/node-prep"]);
  });

  it("prepares hosts in parallel: no host's OS preparation waits for another host", async () => {
    const graph = await clusterGraph(model(haSection(3)));
    const preps = graph.custom.filter((r) => r.name.endsWith("/node-prep"));
    expect(preps.length).toBe(8);
    for (const r of preps) expect(graph.dependenciesOf(r.name)).toEqual([]);
  });

  it("keeps workers independent of each other", async () => {
    const m = model(haSection(4));
    const graph = await clusterGraph(m);
    for (const worker of m.workers) {
      const mine = graph.custom.filter((r) => r.name.startsWith(`${worker.name}/`));
      expect(mine.length).toBeGreaterThan(0);
      for (const step of mine) {
        const others = [...graph.ancestorsOf(step.name)].filter((a) => /^w\d+\//.test(a) && !a.startsWith(`${worker.name}/`));
        expect(others, `${step.name} waits for another worker`).toEqual([]);
      }
    }
  });

  it("adding a worker adds only that worker's resources and changes nothing else but the workers' token refresh", async () => {
    const before = await clusterGraph(model(haSection(3)));
    const after = await clusterGraph(model(haSection(4)));
    const diff = graphDiff(before, after);
    expect(diff.removed).toEqual([]);
    expect(diff.changed).toEqual(["cp1/worker-admission"]);
    expect(diff.added.length).toBeGreaterThan(0);
    expect(diff.added.every((name) => name.startsWith("w4/"))).toBe(true);
  });

  it("changing only the registry mirrors changes each node's node-prep, where only the runtime-config part re-runs", async () => {
    const section = haSection(2);
    const before = await clusterGraph(model(section));
    section.mirrors = { registryMirrors: { "docker.io": ["https://mirror.example.com"] } };
    const after = await clusterGraph(model(section));
    const diff = graphDiff(before, after);
    expect(diff.added).toEqual([]);
    expect(diff.removed).toEqual([]);
    expect(diff.changed).toEqual(["cp1/node-prep", "cp2/node-prep", "cp3/node-prep", "w1/node-prep", "w2/node-prep"]);
    for (const name of diff.changed) {
      expect(changedParts(before, after, name), name).toEqual(["runtime-config"]);
    }
  });

  it("marks the SSH key, generated secrets and secret-carrying outputs as secret", async () => {
    const graph = await clusterGraph(model(haSection(1)));
    const prep = graph.byName("cp1/node-prep");
    const connection = prep.inputs.connection as Record<string, unknown>;
    expect(isSecretValue(connection) || isSecretValue(connection.privateKey)).toBe(true);
    expect(graph.byName("bootstrap-token-id").type).toBe("random:index/randomPassword:RandomPassword");
    // No RandomBytes anywhere: its resource id is its value, in plain text in the state.
    expect(graph.byName("certificate-key").type).toBe("random:index/randomPassword:RandomPassword");
    expect(graph.byName("certificate-key").inputs).toMatchObject({ length: 64, upper: false, lower: false, numeric: true, overrideSpecial: "abcdef" });
    expect(graph.custom.filter((r) => r.type.startsWith("random:") && r.type !== "random:index/randomPassword:RandomPassword").map((r) => r.name)).toEqual([]);
    for (const [name, value] of Object.entries(graph.result.secrets)) {
      expect(await pulumi.isSecret(value), `secret ${name}`).toBe(true);
    }
    expect(Object.keys(graph.result.secrets)).toEqual(expect.arrayContaining(["bootstrap_token", "certificate_key", "vrrp_auth"]));
    const readsSecrets = new Set(planEngine(model(haSection(1))).steps.filter((s) => s.secrets.length > 0).map((s) => s.id));
    expect(readsSecrets.size).toBeGreaterThan(0);
    for (const r of graph.custom.filter((r) => r.type === "command:remote:Command" && readsSecrets.has(r.name))) {
      expect(isSecretValue(r.inputs.stdin), `${r.name} stdin`).toBe(true);
      expect(r.additionalSecretOutputs).toEqual(expect.arrayContaining(["stdout", "stderr"]));
      expect(r.inputs.logging).toBe("none");
    }
  });

  it("re-runs changed steps in place: no remote step has triggers (the command provider replaces on them)", async () => {
    const graph = await clusterGraph(model(haSection(1)));
    const commands = graph.custom.filter((r) => r.type === "command:remote:Command");
    expect(commands.length).toBeGreaterThan(0);
    for (const r of commands) {
      expect(r.inputs.triggers, r.name).toBeUndefined();
      // No `update`: the provider re-runs `create` when the inputs change (@pulumi/command 1.2.1).
      expect(r.inputs.update, r.name).toBeUndefined();
    }
  });

  it("groups steps under one component per layer", async () => {
    const graph = await clusterGraph(model(haSection(1)));
    const parentType = (name: string) => graph.byUrn.get(graph.byName(name).parent)!.type;
    expect(parentType("cp1/node-prep")).toBe("kop:cluster:Hosts");
    expect(parentType("lb1/haproxy-config")).toBe("kop:cluster:LoadBalancer");
    expect(parentType("cp1/kubeadm-init")).toBe("kop:cluster:ControlPlane");
    expect(parentType("w1/kubeadm-join")).toBe("kop:cluster:Workers");
    // node-prep covers the runtime and package layers: no empty components for them.
    expect(graph.resources.filter((r) => r.type === "kop:cluster:ContainerRuntime" || r.type === "kop:cluster:KubePackages")).toEqual([]);
  });

  it("keeps the graph depth independent of the number of workers (prod stack, 3 vs 100 workers)", async () => {
    const prod = loadStackFile("prod");
    const withWorkers = (n: number) => {
      const template = prod.workers[0];
      const workers = Array.from({ length: n }, (_, i) => ({
        ...template,
        name: `prod-w${i + 1}`,
        address: `10.20.${1 + Math.floor(i / 250)}.${1 + (i % 250)}`,
        internalAddress: `10.20.${1 + Math.floor(i / 250)}.${1 + (i % 250)}`,
      }));
      const hosts = [...prod.hosts.filter((h) => !h.isWorker), ...workers];
      return { ...prod, hosts, workers, nodes: hosts.filter((h) => h.isNode) };
    };
    const small = await clusterGraph(withWorkers(3));
    const large = await clusterGraph(withWorkers(100));
    expect(large.custom.length).toBeGreaterThan(small.custom.length);
    expect(large.depth()).toBe(small.depth());
  });
});
