/**
 * Measures remote steps on the hosts tier and writes their durations into
 * docs/step-durations.json, the table of `npm run bench`'s provisioning simulation.
 *
 *   npm run bench:steps                      # runs the host tests below, then merges
 *   npm run bench:steps -- --dry-run         # prints what it would write
 *   npm run bench:steps -- --records FILE    # merges the timings of an earlier run (no tests)
 *   npm run bench:steps -- test/hosts/etcd.test.ts   # only these host test files
 *   npm run bench:steps -- --cluster         # the cluster tier: real kubeadm, kubelet and packages
 *
 * The host tests run under `flock /tmp/kop-hosts.lock` (the test hosts are shared) with
 * KOP_STEP_TIMINGS set, so test/hosts/steps.ts's applyStep appends one record per successful
 * create. Only the first create of a step on a host counts (a fresh host's real work): re-runs
 * are idempotent no-ops. Per table key, `seconds` becomes the median of those runs, leaving out
 * runs during which more steps ran at once (on average) than the machine has CPUs when there are others
 * (mergeStepTimings in scripts/bench/durations.ts); keys nothing measured keep their entries.
 * Needs root, like the hosts tier. A failed test run writes nothing.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { DURATIONS_FILE, mergeStepTimings, parseDurationTable, parseStepTimings, type DurationTable } from "./durations";

const ROOT = path.resolve(__dirname, "..", "..");
const LOCK = process.env.KOP_HOSTS_LOCK ?? "/tmp/kop-hosts.lock";

/** The host tests that apply the steps this measures: node preparation, runtime, balancers, etcd. */
const DEFAULT_TESTS = ["test/hosts/node.test.ts", "test/hosts/load-balancer.test.ts", "test/hosts/etcd.test.ts"];

const STAND_IN_KUBEADM = "runs against the stand-in kubeadm and kubelet of test/hosts/kubeadm-standins.sh, not the real ones";
/** Steps whose runs on the test hosts are not the real work: their entries stay estimates. */
const NOT_MEASURED: Record<string, string> = {
  "kube-packages":
    "installs stand-in packages from a local repository (test/hosts/harness/fake-apt-repo.sh): the Kubernetes package repository cannot be reached from the test hosts",
  "node-prep": "the engine's bundle of os-prep .. kubeadm-config: the table times its parts",
  "kubeadm-init": STAND_IN_KUBEADM,
  "kubeadm-join": STAND_IN_KUBEADM,
  "kubeadm-upgrade": STAND_IN_KUBEADM,
  admit: STAND_IN_KUBEADM,
  "worker-admission": STAND_IN_KUBEADM,
  node: STAND_IN_KUBEADM,
  "cluster-ca-hash": STAND_IN_KUBEADM,
  "admin-kubeconfig": STAND_IN_KUBEADM,
  "node-upgrader": STAND_IN_KUBEADM,
};

/** On the cluster tier (test/cluster) kubeadm, the kubelet and the packages are real: only the bundle stays unmeasured. */
const NOT_MEASURED_ON_CLUSTER: Record<string, string> = { "node-prep": NOT_MEASURED["node-prep"] };
const CLUSTER_TESTS = ["test/cluster/cluster.test.ts"];

/** Where what was measured came from, added to the sources. */
const NOTES: Record<string, string> = {
  "os-prep": "apt-get update and the packages from the Debian 12 mirror the test hosts use (a fresh host has no package lists)",
  "runtime-install": "containerd and runc from Debian 12's repository (runtime source distro)",
  "lb-install": "haproxy and keepalived from Debian 12's repository",
  "etcd-install": "Debian 12's etcd-server and etcd-client packages (etcd source distro)",
  "keepalived-config": "the step ends when the VIP answers",
  "kube-packages": "real packages (binaries built from Go modules) from the per-minor repository on the test bridge (cluster tier)",
  "kubeadm-init": "real kubeadm and control-plane images from the registry on the test bridge (cluster tier)",
  "etcd-member":
    "the slowest runs are members that wait for their peers (the third member of a new cluster, a learner catching up before its promotion)",
};

interface Args {
  records?: string;
  dryRun: boolean;
  cluster: boolean;
  tests: string[];
}

function parseArgs(argv: string[]): Args {
  const args: Args = { dryRun: false, cluster: false, tests: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--dry-run") args.dryRun = true;
    else if (a === "--cluster") args.cluster = true;
    else if (a === "--records") args.records = argv[++i];
    else if (a.startsWith("--")) throw new Error(`unknown option ${a} (known: --dry-run, --cluster, --records FILE)`);
    else args.tests.push(a);
  }
  if (args.records !== undefined && args.tests.length > 0) throw new Error("--records merges an earlier run: give no test files with it");
  if (args.records === undefined && args.tests.length === 0) args.tests = args.cluster ? CLUSTER_TESTS : DEFAULT_TESTS;
  return args;
}

/** Runs the host tests with KOP_STEP_TIMINGS set; returns the records file. */
function runHostTests(tests: string[], project: "hosts" | "cluster"): string {
  if (process.getuid?.() !== 0) throw new Error("the hosts tier needs root");
  const records = path.join(os.tmpdir(), `kop-step-timings-${new Date().toISOString().replace(/[:.]/g, "-")}.jsonl`);
  fs.writeFileSync(records, "");
  const started = Date.now();
  console.log(`bench:steps: flock ${LOCK} npx vitest run --project ${project} ${tests.join(" ")}\n  KOP_STEP_TIMINGS=${records}`);
  const run = spawnSync("flock", [LOCK, "npx", "vitest", "run", "--project", project, ...tests], {
    cwd: ROOT,
    stdio: "inherit",
    env: { ...process.env, KOP_STEP_TIMINGS: records },
  });
  const minutes = ((Date.now() - started) / 60_000).toFixed(1);
  if (run.status !== 0) {
    throw new Error(`the host tests failed (exit ${run.status ?? run.signal}, ${minutes} min): nothing written; timings so far in ${records}`);
  }
  console.log(`bench:steps: host tests passed in ${minutes} min; timings in ${records}`);
  return records;
}

function main(): void {
  const args = parseArgs(process.argv.slice(2));
  const recordsFile = args.records ?? runHostTests(args.tests, args.cluster ? "cluster" : "hosts");
  const records = parseStepTimings(fs.readFileSync(recordsFile, "utf8"), recordsFile);
  const raw = JSON.parse(fs.readFileSync(DURATIONS_FILE, "utf8")) as DurationTable;
  parseDurationTable(raw, path.basename(DURATIONS_FILE));
  const notMeasured = args.cluster ? NOT_MEASURED_ON_CLUSTER : NOT_MEASURED;
  const { table, measured, skipped } = mergeStepTimings(raw, records, { notMeasured, notes: NOTES });
  parseDurationTable(table, path.basename(DURATIONS_FILE));

  const firsts = records.filter((r) => r.first);
  console.log(`\n${records.length} creates recorded, ${firsts.length} of them first creates on fresh hosts`);
  for (const m of measured) {
    const values = m.values.map((v) => v.toFixed(1)).join(", ");
    const left = m.contended.length > 0 ? `, left out as contended: ${m.contended.map((v) => v.toFixed(1)).join(", ")}` : "";
    console.log(`  ${m.key.padEnd(28)} ${String(m.seconds).padStart(6)} s  n=${m.values.length}  (${values}${left})  was ${m.previous.seconds} s (${m.previous.source.split(":")[0]})`);
  }
  for (const [step, reason] of Object.entries(skipped)) console.log(`  ${step.padEnd(28)} not measured: ${reason}`);
  const untouched = Object.keys(table.steps).filter((k) => !measured.some((m) => m.key === k));
  console.log(`  unchanged: ${untouched.join(", ")}`);
  if (args.dryRun) {
    console.log("\n--dry-run: docs/step-durations.json not written");
    return;
  }
  fs.writeFileSync(DURATIONS_FILE, JSON.stringify(table, null, 2) + "\n");
  console.log(`\nwrote ${path.relative(ROOT, DURATIONS_FILE)}`);
}

try {
  main();
} catch (e) {
  console.error(`bench:steps: ${(e as Error).message}`);
  process.exit(1);
}
