import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { loadStackFile } from "../../components/config";
import { planCluster } from "../../components/plan";
import { classify, loadDurationTable, mergeStepTimings, parseDurationTable, parseStepTimings, stepKind, type DurationTable, type StepTiming } from "../../scripts/bench/durations";
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
    expect(projectNodeArgs()).toEqual(["--max-semi-space-size=32"]);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kop-nodeargs-"));
    const file = path.join(dir, "Pulumi.yaml");
    fs.writeFileSync(file, "name: x\nruntime: nodejs\n");
    expect(projectNodeArgs(file)).toEqual([]);
    fs.writeFileSync(file, "name: x\nruntime:\n  name: nodejs\n  options:\n    nodeargs: 42\n");
    expect(() => projectNodeArgs(file)).toThrow(/runtime.options.nodeargs must be a string/);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe("merging step timings measured on the test hosts (npm run bench:steps)", () => {
  const before = {
    description: "kept as it is",
    steps: {
      "os-prep": entry(25),
      "hosts-file": entry(1),
      "kube-packages": entry(40),
      "etcd-certs-*": entry(2),
      "kubeadm-join@control-plane": entry(120),
      "kubeadm-join": entry(40),
    },
    types: { "random:*": entry(0) },
  };
  const FILE = "test/hosts/node.test.ts";
  const TEST = "hosts on a real Debian 12 host > first run";
  const timing = (step: string, ms: number, more: Partial<StepTiming> = {}): StepTiming => ({
    step,
    host: "h1",
    ms,
    first: true,
    parallel: 1,
    cpus: 2,
    file: FILE,
    test: TEST,
    date: "2026-12-05T17:00:00.000Z",
    ...more,
  });

  it("replaces only the measured entries: the rest, the key order and other fields stay as they were", () => {
    const { table, measured } = mergeStepTimings(before, [timing("hosts-file", 300)]);
    expect(Object.keys(table)).toEqual(["description", "steps", "types"]);
    expect(table.description).toBe("kept as it is");
    expect(Object.keys(table.steps)).toEqual(Object.keys(before.steps));
    for (const key of Object.keys(before.steps).filter((k) => k !== "hosts-file")) expect(table.steps[key as keyof typeof before.steps]).toBe(before.steps[key as keyof typeof before.steps]);
    expect(table.types).toBe(before.types);
    expect(table.steps["hosts-file"].seconds).toBe(0.3);
    expect(measured).toEqual([{ key: "hosts-file", seconds: 0.3, values: [0.3], contended: [], previous: before.steps["hosts-file"] }]);
    expect(before.steps["hosts-file"]).toEqual(entry(1)); // the input is not changed
    expect(() => parseDurationTable(table)).not.toThrow();
  });

  it("takes the median of the first creates only, rounded to 0.1 s", () => {
    const odd = mergeStepTimings(before, [
      timing("os-prep", 4000, { host: "h1" }),
      timing("os-prep", 1260, { host: "h2" }),
      timing("os-prep", 700, { host: "h1", first: false }), // an idempotent re-run
      timing("os-prep", 1000, { host: "h3" }),
    ]);
    expect(odd.table.steps["os-prep"].seconds).toBe(1.3);
    expect(odd.measured[0].values).toEqual([4, 1.26, 1]);
    const even = mergeStepTimings(before, [timing("os-prep", 1000), timing("os-prep", 2040, { host: "h2" })]);
    expect(even.table.steps["os-prep"].seconds).toBe(1.5);
    // Only re-runs: nothing measured, the entry stays.
    expect(mergeStepTimings(before, [timing("os-prep", 700, { first: false })]).table.steps["os-prep"]).toBe(before.steps["os-prep"]);
  });

  it("says in the source which tests, how many runs, when, and every value", () => {
    const { table } = mergeStepTimings(before, [timing("hosts-file", 250), timing("hosts-file", 340, { host: "h2", parallel: 2 /* = cpus: not contended */ })], {
      notes: { "hosts-file": "a note" },
    });
    expect(table.steps["hosts-file"]).toEqual({
      seconds: 0.3,
      source:
        "measured: test/hosts/node.test.ts 'first run'; median of 2 first-create runs on fresh systemd-nspawn Debian 12 test hosts, 2026-12-05 (0.3, 0.3 s); a note",
    });
  });

  it("leaves out runs during which more steps ran at once than the machine has CPUs, unless no run was without", () => {
    const etcdSetup = { parallel: 4.9, file: "test/hosts/etcd.test.ts", test: "(setup hook)" };
    const { table, measured } = mergeStepTimings(before, [
      timing("os-prep", 17250, { ...etcdSetup, host: "e1", date: "2026-12-06T01:00:00.000Z" }),
      timing("os-prep", 4890),
      timing("os-prep", 16040, { ...etcdSetup, host: "e2", date: "2026-12-06T01:00:00.100Z" }),
    ]);
    expect(table.steps["os-prep"]).toEqual({
      seconds: 4.9,
      source:
        "measured: test/hosts/node.test.ts 'first run', test/hosts/etcd.test.ts (setup hook); median of 1 of 3 first-create runs on fresh systemd-nspawn Debian 12 test hosts, " +
        "2026-12-05 to 2026-12-06 (4.9, 17.3*, 16.0* s; * = more steps ran at once, on average, than the test machine has CPUs (2), left out)",
    });
    expect(measured[0]).toMatchObject({ values: [4.89], contended: [17.25, 16.04] });
    // Every run contended: all count, and the source says so.
    const crowded = mergeStepTimings(before, [timing("os-prep", 17250, { ...etcdSetup, host: "e1" }), timing("os-prep", 16040, { ...etcdSetup, host: "e2" })]);
    expect(crowded.table.steps["os-prep"].seconds).toBe(16.6);
    expect(crowded.table.steps["os-prep"].source).toContain(
      "median of 2 first-create runs on fresh systemd-nspawn Debian 12 test hosts, 2026-12-05 (17.3*, 16.0* s; * = more steps ran at once, on average, than the test machine has CPUs (2), counted as no run was without)",
    );
    expect(crowded.measured[0].contended).toEqual([]);
  });

  it("finds a step's key like the simulation does: exact, then the best glob; never a per-role key", () => {
    const { table, measured } = mergeStepTimings(before, [timing("etcd-certs-e1", 1000), timing("etcd-certs-e2", 3000), timing("kubeadm-join", 30_000)]);
    expect(measured.map((m) => [m.key, m.seconds, m.values.length])).toEqual([
      ["etcd-certs-*", 2, 2],
      ["kubeadm-join", 30, 1],
    ]);
    expect(table.steps["kubeadm-join@control-plane"]).toBe(before.steps["kubeadm-join@control-plane"]);
  });

  it("leaves steps measured with stand-ins alone and reports them with the reason", () => {
    const { table, measured, skipped } = mergeStepTimings(before, [timing("kube-packages", 2500), timing("node-prep", 9000)], {
      notMeasured: { "kube-packages": "stand-in packages", "node-prep": "a bundle of parts" },
    });
    expect(measured).toEqual([]);
    expect(table.steps).toEqual(before.steps);
    expect(skipped).toEqual({ "kube-packages": "stand-in packages", "node-prep": "a bundle of parts" });
  });

  it("refuses a step the table has no entry for, naming it (no entry is added)", () => {
    expect(() => mergeStepTimings(before, [timing("os-prep", 1000), timing("brand-new-step", 1000, { host: "w3" })])).toThrow(
      /steps without an entry in the table's steps: "brand-new-step" \(test\/hosts\/node\.test\.ts, w3\)/,
    );
    // Re-runs of it do not matter: only first creates are merged.
    expect(() => mergeStepTimings(before, [timing("brand-new-step", 1000, { first: false })])).not.toThrow();
  });

  it("reads the timings file line by line, naming the line of a bad record", () => {
    const good = JSON.stringify(timing("os-prep", 1000));
    expect(parseStepTimings(`${good}\n\n${good}\n`)).toHaveLength(2);
    expect(() => parseStepTimings(`${good}\n{"step":"os-prep"}\n`, "t.jsonl")).toThrow(/t\.jsonl:2: host, file, test, date must be non-empty strings/);
    expect(() => parseStepTimings("not json", "t.jsonl")).toThrow(/t\.jsonl:1: not JSON/);
  });
});
