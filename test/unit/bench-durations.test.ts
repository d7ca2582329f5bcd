import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { loadStackFile } from "../../components/config";
import { planCluster } from "../../components/plan";
import { classify, loadDurationTable, parseDurationTable, stepKind, type DurationTable } from "../../scripts/bench/durations";
import { projectNodeArgs } from "../../scripts/bench/node-args";
import { hostRole, provisioning } from "../../scripts/bench/provisioning";
import type { GraphTask } from "../../scripts/bench/types";

const entry = (seconds: number, source = "estimate: test") => ({ seconds, source });
const table: DurationTable = {
  steps: {
    "os-prep": entry(20, "measured: a host test, 2026-11-21"),
    "etcd-certs-*": entry(2),
    "etcd-*": entry(9),
    "kubeadm-join": entry(40),
    "kubeadm-join@control-plane": entry(120),
  },
  types: { "random:*": entry(0), "kubernetes:*": entry(1), "kubernetes:apps/v1:DaemonSet": entry(60) },
};
const step = (name: string) => ({ name, type: "command:remote:Command" });

describe("step durations for the provisioning simulation", () => {
  it("knows a remote step by the part of its name after the host", () => {
    expect(stepKind("prod-w1/os-prep")).toBe("os-prep");
    expect(stepKind("prod-etcd1/etcd-certs-prod-etcd2")).toBe("etcd-certs-prod-etcd2");
    expect(classify(table, step("prod-w1/os-prep"))).toEqual({ key: "step:os-prep", seconds: 20, measured: true });
  });

  it("prefers an exact key, then the glob with the most literal characters", () => {
    expect(classify(table, step("e1/etcd-certs-e2"))?.key).toBe("step:etcd-certs-*");
    expect(classify(table, step("e1/etcd-member"))?.key).toBe("step:etcd-*");
    expect(classify(table, { name: "kube-system/calico-node", type: "kubernetes:apps/v1:DaemonSet" })?.seconds).toBe(60);
    expect(classify(table, { name: "kube-system/calico-node", type: "kubernetes:core/v1:ServiceAccount" })?.seconds).toBe(1);
    expect(classify(table, { name: "bootstrap-token-id", type: "random:index/randomPassword:RandomPassword" })?.seconds).toBe(0);
  });

  it("uses a role-specific entry for the node's role, the plain one otherwise", () => {
    expect(classify(table, step("cp2/kubeadm-join"), "control-plane")?.seconds).toBe(120);
    expect(classify(table, step("w7/kubeadm-join"), "worker")?.seconds).toBe(40);
    expect(classify(table, step("w7/kubeadm-join"))?.seconds).toBe(40);
  });

  it("returns nothing for a resource it has no entry for", () => {
    expect(classify(table, step("w1/brand-new-step"))).toBeUndefined();
    expect(classify(table, { name: "x", type: "pulumi-nodejs:dynamic:Resource" })).toBeUndefined();
  });

  it("rejects entries without a number or without a measured/estimate source, naming the key", () => {
    expect(() => parseDurationTable({ steps: { a: { seconds: -1, source: "estimate: x" } }, types: {} })).toThrow(/steps\["a"\]\.seconds/);
    expect(() => parseDurationTable({ steps: { a: { seconds: 1, source: "a guess" } }, types: {} })).toThrow(/steps\["a"\]\.source/);
    expect(() => parseDurationTable({ steps: {} })).toThrow(/"types"/);
  });

  it("reports resources without a duration instead of silently timing them 0 s", () => {
    const tasks: GraphTask[] = [
      { id: "u1", name: "w1/os-prep", type: "command:remote:Command", deps: [] },
      { id: "u2", name: "w1/brand-new-step", type: "command:remote:Command", deps: ["u1"] },
      { id: "u3", name: "w2/brand-new-step", type: "command:remote:Command", deps: [] },
      { id: "u4", name: "thing", type: "example:index:Thing", deps: ["u2"] },
    ];
    const result = provisioning(2, tasks, table, { w1: "worker", w2: "worker" });
    expect(result.unknown).toEqual({ "step brand-new-step": 2, "type example:index:Thing": 1 });
    expect(result.criticalPathSeconds).toBe(20);
    expect(result.serialSeconds).toBe(20);
    expect(result.measuredShare).toBe(1);
  });

  it("times nodes by their Kubernetes role first", () => {
    expect(hostRole(["etcd", "control-plane"])).toBe("control-plane");
    expect(hostRole(["worker"])).toBe("worker");
    expect(hostRole(["load-balancer"])).toBe("load-balancer");
  });

  it("docs/step-durations.json is valid and has a duration for every step the example stacks plan", () => {
    const durations = loadDurationTable();
    for (const stack of ["dev", "prod", "china"]) {
      const model = loadStackFile(stack);
      const roles = Object.fromEntries(model.hosts.map((h) => [h.name, hostRole(h.roles)]));
      const missing = planCluster(model)
        .steps.filter((s) => !classify(durations, step(s.id), roles[s.id.slice(0, s.id.indexOf("/"))]))
        .map((s) => s.id);
      expect(missing, `stack ${stack}: steps without a duration in docs/step-durations.json`).toEqual([]);
    }
  });
});

describe("node-prep's duration", () => {
  it("is the sum of the parts it runs on the host's role, measured only when every part is", () => {
    const parts: DurationTable = {
      steps: {
        "os-prep": entry(20, "measured: a host test"),
        "hosts-file": entry(1, "measured: a host test"),
        "runtime-install": entry(30),
        "runtime-config": entry(5),
        "kube-packages": entry(40),
        "kubeadm-config": entry(1),
      },
      types: {},
    };
    const prep = { name: "w1/node-prep", type: "command:remote:Command" };
    expect(classify(parts, prep, "worker")).toMatchObject({ seconds: 97, measured: false });
    expect(classify(parts, { ...prep, name: "lb1/node-prep" }, "load-balancer")).toMatchObject({ seconds: 21, measured: true });
    expect(classify(parts, prep)).toBeUndefined();
    delete parts.steps["kube-packages"];
    expect(classify(parts, prep, "worker")).toBeUndefined();
  });
});

describe("the benchmark runs the program as pulumi up does", () => {
  it("takes the program's Node arguments from Pulumi.yaml's runtime options", () => {
    expect(projectNodeArgs()).toEqual(["--max-semi-space-size=64"]);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kop-nodeargs-"));
    const file = path.join(dir, "Pulumi.yaml");
    fs.writeFileSync(file, "name: x\nruntime: nodejs\n");
    expect(projectNodeArgs(file)).toEqual([]);
    fs.writeFileSync(file, "name: x\nruntime:\n  name: nodejs\n  options:\n    nodeargs: 42\n");
    expect(() => projectNodeArgs(file)).toThrow(/runtime.options.nodeargs must be a string/);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
