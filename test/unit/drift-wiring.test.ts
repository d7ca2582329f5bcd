import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { Cluster } from "../../components/cluster";
import type { ClusterModel } from "../../components/config";
import { managedFileName, managedUnitName } from "../../components/drift/wiring";
import { planCluster } from "../../components/plan";
import { sha256 } from "../../components/remote/shell";
import { isSecretValue, reveal, runUnderMocks } from "../../scripts/lib/mock-program";
import { haSection, model } from "./fixtures";

const FILE_TYPE = "pulumi-nodejs:dynamic/kop:ManagedFile";
const UNIT_TYPE = "pulumi-nodejs:dynamic/kop:ManagedUnit";

function graphOf(m: ClusterModel, driftDetection = true) {
  return runUnderMocks(() => new Cluster(m.name, { model: m, sshPrivateKey: pulumi.secret("TEST PRIVATE KEY"), driftDetection }), {
    preview: false,
    outputs: (type) => (type === FILE_TYPE ? { revision: 7 } : undefined),
  });
}

describe("drift resources in the cluster graph", async () => {
  const m = model(haSection(2));
  const plan = planCluster(m);
  const graph = await graphOf(m);
  const files = graph.custom.filter((r) => r.type === FILE_TYPE);
  const units = graph.custom.filter((r) => r.type === UNIT_TYPE);

  it("declares one ManagedFile per placed file, before the step and after what the step needs", () => {
    const placed = plan.steps.flatMap((s) => s.files.map((f) => ({ step: s, file: f })));
    expect(placed.length).toBeGreaterThan(10);
    expect(files.map((f) => f.name).sort()).toEqual(placed.map((p) => managedFileName(p.step.host, p.file.path)).sort());
    for (const { step, file } of placed) {
      const name = managedFileName(step.host, file.path);
      const r = graph.byName(name);
      expect(r.inputs).toMatchObject({ host: step.host, path: file.path, mode: file.mode, secret: Boolean(file.secret), exists: true, drift: [] });
      expect(graph.dependenciesOf(name).sort()).toEqual([...step.needs].sort());
      expect(graph.dependenciesOf(step.id)).toContain(name);
      if (file.secret) expect(r.inputs.content).toBeUndefined();
      else expect(r.inputs).toMatchObject({ content: file.content, contentHash: sha256(file.content) });
    }
  });

  it("puts each file's revision in its step's command, so a repair re-runs exactly that step in place", () => {
    for (const step of plan.steps) {
      const inputs = graph.byName(step.id).inputs;
      // Never `triggers`: @pulumi/command replaces on trigger changes, and the old delete would undo the new run.
      expect(inputs.triggers, step.id).toBeUndefined();
      const create = inputs.create as string;
      if (step.files.length > 0) {
        expect(create.split("\n")[0], step.id).toBe(`: kop-applied-revisions ${step.files.map(() => 7).join(" ")}`);
      } else {
        expect(create.startsWith("bash -c") || create.startsWith("sudo -n bash -c"), step.id).toBe(true);
      }
      expect(inputs.update, step.id).toBe(create);
    }
  });

  it("declares the units the steps keep running, after those steps", () => {
    const expected = plan.steps.flatMap((s) => (s.units ?? []).map((u) => ({ name: managedUnitName(s.host, u), step: s.id })));
    expect(expected.map((e) => e.name)).toEqual(expect.arrayContaining(["lb1/unit:haproxy.service", "lb2/unit:keepalived.service", "w1/unit:containerd.service"]));
    expect(units.map((u) => u.name).sort()).toEqual([...new Set(expected.map((e) => e.name))].sort());
    for (const e of expected) expect(graph.dependenciesOf(e.name)).toContain(e.step);
    for (const u of units) expect(u.inputs).toMatchObject({ enabled: true, active: true, drift: [] });
  });

  it("keeps the SSH key secret and marks the keyed-hash salt secret", () => {
    for (const r of [...files, ...units]) {
      expect(isSecretValue(r.inputs.privateKey), r.name).toBe(true);
      expect(reveal(r.inputs.privateKey)).toBe("TEST PRIVATE KEY");
      expect(r.additionalSecretOutputs).toContain("privateKey");
    }
    for (const f of files) expect(f.additionalSecretOutputs).toContain("salt");
  });

  it("does not put a secret's value into any drift resource", () => {
    const secretFiles = files.filter((f) => f.inputs.secret === true);
    expect(secretFiles.map((f) => f.name)).toEqual(expect.arrayContaining(["lb1/etc/keepalived/kubeadm-on-pulumi-vrrp-auth.conf"]));
    const text = JSON.stringify([...files, ...units].map((r) => ({ ...r.inputs, privateKey: undefined })));
    expect(text).not.toContain("mockedsecretvalue");
  });

  it("changes a file and its step together, and no other step or drift resource, when only the mirrors change", async () => {
    const section = haSection(2);
    const changed = await graphOf(model({ ...section, mirrors: { registryMirrors: { "docker.io": ["https://mirror.example"] } } }));
    const ours = (r: { type: string }) => [FILE_TYPE, UNIT_TYPE, "command:remote:Command"].includes(r.type);
    const before = new Map(graph.custom.filter(ours).map((r) => [r.name, JSON.stringify(r.inputs)]));
    const differing = changed.custom.filter((r) => ours(r) && before.get(r.name) !== JSON.stringify(r.inputs)).map((r) => r.name);
    const hostsToml = managedFileName("w1", "/etc/containerd/certs.d/docker.io/hosts.toml");
    expect(before.has(hostsToml)).toBe(false);
    expect(differing.sort()).toEqual(m.nodes.flatMap((h) => [`${h.name}/runtime-config`, managedFileName(h.name, "/etc/containerd/certs.d/docker.io/hosts.toml")]).sort());
  });

  it("declares none of it when drift detection is off", async () => {
    const off = await graphOf(m, false);
    expect(off.custom.filter((r) => r.type === FILE_TYPE || r.type === UNIT_TYPE)).toEqual([]);
  });
});
