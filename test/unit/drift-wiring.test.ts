import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { Cluster } from "../../components/cluster";
import type { ClusterModel } from "../../components/config";
import { managedFilesName } from "../../components/drift/wiring";
import { planEngine } from "../../components/plan";
import { sha256 } from "../../components/remote/shell";
import { isSecretValue, reveal, runUnderMocks } from "../../scripts/lib/mock-program";
import { haSection, model } from "./fixtures";
import { changedParts } from "./mock-cluster";

const FILE_TYPE = "pulumi-nodejs:dynamic/kop:ManagedFiles";
type Entry = Record<string, unknown>;

function graphOf(m: ClusterModel, driftDetection = true) {
  return runUnderMocks(() => new Cluster(m.name, { model: m, sshPrivateKey: pulumi.secret("TEST PRIVATE KEY"), driftDetection }), {
    preview: false,
    outputs: (type) => (type === FILE_TYPE ? { revision: 7 } : undefined),
  });
}

describe("drift resources in the cluster graph", async () => {
  const m = model(haSection(2));
  const plan = planEngine(m);
  const graph = await graphOf(m);
  const files = graph.custom.filter((r) => r.type === FILE_TYPE);
  /** Steps with a ManagedFiles: those that place files, and a host's node-prep when the host has units. */
  const hasDrift = (s: (typeof plan.steps)[number]) => s.files.length > 0 || (s.id.endsWith("/node-prep") && plan.steps.some((x) => x.host === s.host && x.units?.length));

  it("declares one ManagedFiles per step that places files (and per host with units), before the step and after what the step needs", () => {
    const placing = plan.steps.filter(hasDrift);
    expect(placing.map((s) => s.id)).toContain("lb1/node-prep"); // no files of its own, but the host's units
    expect(placing.length).toBeGreaterThan(10);
    expect(files.map((f) => f.name).sort()).toEqual(placing.map((s) => managedFilesName(s.id)).sort());
    for (const step of placing) {
      const name = managedFilesName(step.id);
      const r = graph.byName(name);
      expect(r.inputs).toMatchObject({ host: step.host, step: step.id });
      const entries = reveal(r.inputs.files) as Entry[];
      expect(entries.map((e) => e.path)).toEqual(step.files.map((f) => f.path));
      for (const [i, file] of step.files.entries()) {
        expect(entries[i]).toMatchObject({ path: file.path, mode: file.mode, secret: Boolean(file.secret), exists: true, drift: [] });
        if (file.secret) expect(entries[i].content).toBeUndefined();
        else expect(entries[i]).toMatchObject({ content: file.content, contentHash: sha256(file.content) });
      }
      expect(graph.dependenciesOf(name).sort()).toEqual([...step.needs].sort());
      expect(graph.dependenciesOf(step.id)).toContain(name);
    }
  });

  it("puts its files' revision in the step's command, so a repair re-runs exactly that step in place", () => {
    for (const step of plan.steps) {
      const inputs = graph.byName(step.id).inputs;
      // Never `triggers`: @pulumi/command replaces on trigger changes, and the old delete would undo the new run.
      expect(inputs.triggers, step.id).toBeUndefined();
      const create = inputs.create as string;
      if (hasDrift(step)) {
        expect(create.split("\n")[0], step.id).toBe(": kop-applied-revisions 7");
      } else {
        expect(create.startsWith("bash -c") || create.startsWith("sudo -n bash -c"), step.id).toBe(true);
      }
      expect(inputs.update, step.id).toBeUndefined();
    }
  });

  it("lists each host's units on its first ManagedFiles (node-prep's), which the steps that start them follow", () => {
    const byHost = new Map<string, { units: string[]; steps: string[] }>();
    for (const s of plan.steps.filter((x) => x.units?.length)) {
      const e = byHost.get(s.host) ?? { units: [], steps: [] };
      for (const u of s.units!) if (!e.units.includes(u)) e.units.push(u);
      e.steps.push(s.id);
      byHost.set(s.host, e);
    }
    expect(byHost.get("lb1")?.units).toEqual(["haproxy.service", "keepalived.service"]);
    expect(byHost.get("w1")?.units).toEqual(["containerd.service", "kubelet.service"]);
    expect(byHost.get("w1")?.steps).toEqual(["w1/node-prep", "w1/kubeadm-join"]);
    for (const [host, e] of byHost) {
      const name = managedFilesName(`${host}/node-prep`);
      const units = graph.byName(name).inputs.units as Entry[];
      expect(units.map((u) => u.unit), host).toEqual(e.units);
      for (const u of units) expect(u).toMatchObject({ enabled: true, active: true, drift: [] });
      for (const step of e.steps) expect(graph.ancestorsOf(step)).toContain(name);
    }
    expect(files.filter((f) => f.inputs.units !== undefined).map((f) => f.name).sort()).toEqual([...byHost.keys()].map((h) => managedFilesName(`${h}/node-prep`)).sort());
  });

  it("keeps the SSH key secret and marks the keyed-hash salt secret", () => {
    for (const r of files) {
      const connection = r.inputs.connection as Record<string, unknown>;
      expect(isSecretValue(connection.privateKey), r.name).toBe(true);
      expect(reveal(connection.privateKey)).toBe("TEST PRIVATE KEY");
      expect(r.additionalSecretOutputs).toContain("connection");
    }
    // A secret file's entry keeps the salt of its keyed hash: such a step's whole list is a secret output.
    for (const f of files) expect(f.additionalSecretOutputs.includes("files"), f.name).toBe((reveal(f.inputs.files) as Entry[]).some((e) => e.secret === true));
  });

  it("does not put a secret's value into any drift resource", () => {
    const secretFiles = files.filter((f) => (reveal(f.inputs.files) as Entry[]).some((e) => e.secret === true));
    expect(secretFiles.map((f) => f.name)).toEqual(expect.arrayContaining([managedFilesName("lb1/keepalived-config")]));
    const text = JSON.stringify(files.map((r) => ({ ...r.inputs, connection: undefined })));
    expect(text).not.toContain("mockedsecretvalue");
  });

  it("changes a step's files and the step together, and no other step or drift resource, when only the mirrors change", async () => {
    const section = haSection(2);
    const changed = await graphOf(model({ ...section, mirrors: { registryMirrors: { "docker.io": ["https://mirror.example"] } } }));
    const ours = (r: { type: string }) => [FILE_TYPE, "command:remote:Command"].includes(r.type);
    const before = new Map(graph.custom.filter(ours).map((r) => [r.name, JSON.stringify(r.inputs)]));
    const differing = changed.custom.filter((r) => ours(r) && before.get(r.name) !== JSON.stringify(r.inputs)).map((r) => r.name);
    expect(differing.sort()).toEqual(m.nodes.flatMap((h) => [`${h.name}/node-prep`, managedFilesName(`${h.name}/node-prep`)]).sort());
    for (const h of m.nodes) expect(changedParts(graph, changed, `${h.name}/node-prep`)).toEqual(["runtime-config"]);
    const entries = reveal(changed.byName(managedFilesName("w1/node-prep")).inputs.files) as Entry[];
    expect(entries.map((e) => e.path)).toContain("/etc/containerd/certs.d/docker.io/hosts.toml");
  });

  it("declares none of it when drift detection is off", async () => {
    const off = await graphOf(m, false);
    expect(off.custom.filter((r) => r.type === FILE_TYPE)).toEqual([]);
  });
});
