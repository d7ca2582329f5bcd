import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { loadStackFile } from "../../components/config";
import { isSecretValue } from "../../scripts/lib/mock-program";
import { haSection, model } from "./fixtures";
import { clusterGraph, graphDiff } from "./mock-cluster";

describe("cluster graph under Pulumi mocks", () => {
  it("orders each node's steps: os-prep, runtime install, runtime config, packages", async () => {
    const m = model(haSection(2));
    const graph = await clusterGraph(m);
    for (const host of m.nodes) {
      expect(graph.dependenciesOf(`${host.name}/runtime-install`)).toContain(`${host.name}/os-prep`);
      expect(graph.dependenciesOf(`${host.name}/runtime-config`)).toContain(`${host.name}/runtime-install`);
      expect(graph.dependenciesOf(`${host.name}/kube-packages`)).toContain(`${host.name}/runtime-config`);
      expect(graph.dependenciesOf(`${host.name}/hosts-file`)).toContain(`${host.name}/os-prep`);
    }
    // Balancers are prepared but get no runtime or Kubernetes packages.
    expect(graph.has("lb1/os-prep")).toBe(true);
    expect(graph.has("lb1/runtime-install")).toBe(false);
    expect(graph.has("lb1/kube-packages")).toBe(false);
  });

  it("declares every step as the command provider's own remote Command, with only its known inputs", async () => {
    const graph = await clusterGraph(model(haSection(2)));
    const steps = graph.custom.filter((r) => r.type === "command:remote:Command");
    expect(steps.length).toBeGreaterThan(20);
    // The provider's input properties (its schema, as @pulumi/command declares them).
    const known = ["addPreviousOutputInEnv", "connection", "create", "delete", "environment", "logging", "stdin", "triggers", "update"];
    const pluginVersion = (require("@pulumi/command/package.json") as { version: string }).version;
    for (const step of steps) {
      expect(step.version, step.name).toBe(pluginVersion);
      expect(Object.keys(step.inputs).filter((k) => !known.includes(k)), step.name).toEqual([]);
      expect(step.inputs.create, step.name).toBe(step.inputs.update);
      expect(isSecretValue(step.inputs.connection), step.name).toBe(true);
      expect(step.additionalSecretOutputs, step.name).toContain("connection");
    }
  });

  it("prepares hosts in parallel: no host's OS preparation waits for another host", async () => {
    const graph = await clusterGraph(model(haSection(3)));
    for (const r of graph.custom.filter((r) => r.name.endsWith("/os-prep"))) expect(graph.dependenciesOf(r.name)).toEqual([]);
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

  it("adding a worker adds only that worker's resources and changes nothing else", async () => {
    const before = await clusterGraph(model(haSection(3)));
    const after = await clusterGraph(model(haSection(4)));
    const diff = graphDiff(before, after);
    expect(diff.removed).toEqual([]);
    expect(diff.changed).toEqual([]);
    expect(diff.added.length).toBeGreaterThan(0);
    expect(diff.added.every((name) => name.startsWith("w4/"))).toBe(true);
  });

  it("changing only the registry mirrors re-runs only the runtime-config step of each node", async () => {
    const section = haSection(2);
    const before = await clusterGraph(model(section));
    section.mirrors = { registryMirrors: { "docker.io": ["https://mirror.example.com"] } };
    const after = await clusterGraph(model(section));
    const diff = graphDiff(before, after);
    expect(diff.added).toEqual([]);
    expect(diff.removed).toEqual([]);
    expect(diff.changed).toEqual(["cp1/runtime-config", "cp2/runtime-config", "cp3/runtime-config", "w1/runtime-config", "w2/runtime-config"]);
  });

  it("marks the SSH key, generated secrets and secret-carrying outputs as secret", async () => {
    const graph = await clusterGraph(model(haSection(1)));
    const prep = graph.byName("cp1/os-prep");
    const connection = prep.inputs.connection as Record<string, unknown>;
    expect(isSecretValue(connection) || isSecretValue(connection.privateKey)).toBe(true);
    expect(graph.byName("bootstrap-token-id").type).toBe("random:index/randomPassword:RandomPassword");
    expect(graph.byName("certificate-key").type).toBe("random:index/randomBytes:RandomBytes");
    for (const [name, value] of Object.entries(graph.result.secrets)) {
      expect(await pulumi.isSecret(value), `secret ${name}`).toBe(true);
    }
    expect(Object.keys(graph.result.secrets)).toEqual(expect.arrayContaining(["bootstrap_token", "certificate_key", "vrrp_auth"]));
    for (const r of graph.custom.filter((r) => r.type === "command:remote:Command" && r.inputs.stdin !== undefined)) {
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
      expect(r.inputs.update, r.name).toEqual(r.inputs.create);
    }
  });

  it("groups steps under one component per layer", async () => {
    const graph = await clusterGraph(model(haSection(1)));
    const parentType = (name: string) => graph.byUrn.get(graph.byName(name).parent)!.type;
    expect(parentType("cp1/os-prep")).toBe("kop:cluster:Hosts");
    expect(parentType("cp1/runtime-config")).toBe("kop:cluster:ContainerRuntime");
    expect(parentType("cp1/kube-packages")).toBe("kop:cluster:KubePackages");
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
