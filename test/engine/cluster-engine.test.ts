/**
 * Engine tier: the project's whole program (index.ts, unchanged) under the real Pulumi CLI,
 * language host and kubernetes plugin, making a real Kubernetes cluster on test hosts.
 *
 * The hosts, the package repository and the image registry are those of the cluster tier
 * (test/cluster/cluster.test.ts): binaries and images built from Go modules
 * (scripts/build-k8s-artifacts.sh, run by test/cluster/global-setup.ts), reached only through
 * the program's mirror keys. The add-ons (flannel, metrics-server, local-path) are applied by
 * the real kubernetes provider through the stack's admin kubeconfig.
 *
 * TEST DOUBLES (docs/engine-tests.md): the `command` and `random` plugins cannot be built here,
 * so test/engine/doubles serves them: each step's exact create/delete string as one SSH exec
 * request with its stdin, as the command provider does; random values from node:crypto.
 *
 *   flock /tmp/kop-hosts.lock npx vitest run --project engine test/engine/cluster-engine.test.ts
 *
 * Wall times: $KOP_ENGINE_CLUSTER_REPORT (default /tmp/kop-engine-cluster-report.txt).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse, stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { modelFromObject } from "../../components/config";
import { managedFilesName } from "../../components/drift/wiring";
import { planEngine } from "../../components/plan";
import { stepInvocation } from "../../components/remote/invocation";
import { sha256 } from "../../components/remote/shell";
import { requireRoot, startTestHosts, type TestHosts } from "../hosts/harness";
import { fingerprintDiff, hostFingerprintScript } from "../hosts/fingerprint";
import { clusterStackConfig, startMirrors, stopMirrors, type Mirrors } from "../cluster/support";
import { installDoubles, linkRealPlugin } from "./doubles/plugins";
import { changedSteps, ensureToolchain, PulumiProject, type RunResult, type Toolchain } from "./pulumi-cli";
import { leaks, secretValues } from "./state-secrets";
import { until } from "../support/until";

/** The newest release the program supports (the cluster tier's first; its globalSetup builds it). */
const RELEASE = inject("kubernetesVersions")[0];
const VERSION = RELEASE.replace(/^v/, "");
const ARTIFACTS = inject("k8sArtifacts")[RELEASE];
const CP = "ecp1";
const HOSTS = [CP, "ew1", "ew2"];
const PROGRAM = path.resolve(__dirname, "../../index.ts");
const REPORT = process.env.KOP_ENGINE_CLUSTER_REPORT ?? "/tmp/kop-engine-cluster-report.txt";
const COMMAND = "command:remote:Command";
/** The test's own kubectl keeps its discovery cache out of /root, which the host fingerprint compares. */
const KUBECTL = "kubectl --kubeconfig /etc/kubernetes/admin.conf --cache-dir /tmp/kop-test-kubectl-cache";
const CRICTL = "/etc/crictl.yaml";
/** The step a test makes fail mid-way, and the message its stand-in kubeadm gives. */
/** The kubernetes provider waits up to 10 minutes for a workload; an up must not be cut shorter. */
const UP_TIMEOUT = 20 * 60_000;
const JOIN_FAILURE = "engine tier: this kubeadm join was made to fail";

describe(`engine: the whole program through the real pulumi CLI and kubernetes plugin, a real Kubernetes ${VERSION} cluster on test hosts`, () => {
  let toolchain: Toolchain;
  let env: TestHosts;
  let mirrors: Mirrors;
  let project: PulumiProject;
  const report: string[] = [];
  const started = Date.now();
  const pristine: Record<string, string> = {};
  let workers = ["ew1"];
  let registryMirrors: Record<string, string[]> = {};

  const sh = async (host: string, script: string) => {
    const r = await env.run(host, script);
    if (r.code !== 0) throw new Error(`${host}: ${script}\nexit ${r.code}\n${r.stdout}\n${r.stderr}`);
    return r.stdout.trim();
  };
  const kubectl = (args: string) => sh(CP, `${KUBECTL} ${args}`);
  /** The cluster tier's stack (test/cluster/support.ts) for this tier's hosts. */
  const config = () => clusterStackConfig(env, mirrors, ARTIFACTS, RELEASE, { controlPlanes: [CP], workers }, { registryMirrors });
  const plan = () => planEngine(modelFromObject(config(), "engine")).steps;
  /** Writes the stack's config file: the cluster:* keys as pulumi reads them, keeping the secret key set before. */
  const writeConfig = () => {
    const file = path.join(project.dir, "Pulumi.engine.yaml");
    const current = fs.existsSync(file) ? (parse(fs.readFileSync(file, "utf8")) as { config?: Record<string, unknown> }) : {};
    const entries: Record<string, unknown> = Object.fromEntries(Object.entries(current.config ?? {}).filter(([k]) => k === "cluster:sshPrivateKey"));
    for (const [k, v] of Object.entries(config())) entries[`cluster:${k}`] = v;
    fs.writeFileSync(file, stringify({ ...current, config: entries }));
  };
  /** Each step's create and delete strings, the scripts on its stdin and its secrets, by step id: what remote-step.ts declares. */
  const commands = () =>
    new Map(
      plan().map((s) => {
        const run = stepInvocation(s, false);
        return [s.id, JSON.stringify([run.create, run.delete ?? null, run.scripts, s.secrets])];
      }),
    );
  const exportState = async () => (await project.expect(["stack", "export"])).stdout;
  const resources = (exported: string) =>
    (JSON.parse(exported) as { deployment: { resources?: Array<{ urn: string; type: string; outputs?: Record<string, unknown> }> } }).deployment.resources ?? [];
  /** Non-"same" operations of a `preview --json` on steps (by step id) and on everything else. */
  const operations = (r: RunResult) => {
    const ops = changedSteps(r.stdout);
    const preview = JSON.parse(r.stdout) as { steps?: Array<{ op: string; urn: string }> };
    const isStep = new Set((preview.steps ?? []).filter((s) => s.urn.includes(`$${COMMAND}::`) || s.urn.includes(`::${COMMAND}::`)).map((s) => `${s.op} ${s.urn.split("::").pop()}`));
    return { steps: ops.filter((o) => isStep.has(o)).sort(), others: ops.filter((o) => !isStep.has(o)).sort() };
  };
  const nodesReady = async (names: string[]) => {
    const out = await kubectl("get nodes -o jsonpath='{range .items[*]}{.metadata.name}={.status.conditions[?(@.type==\"Ready\")].status} {end}'");
    const ready = new Set(out.split(" ").filter((x) => x.endsWith("=True")).map((x) => x.split("=")[0]));
    return names.every((n) => ready.has(n));
  };
  /** Every Deployment and DaemonSet of the cluster (kube-proxy, CoreDNS and the add-ons') has all its pods ready. */
  const workloadsReady = async () => {
    const list = JSON.parse(await kubectl("get deployments,daemonsets -A -o json")) as {
      items: Array<{ kind: string; metadata: { namespace: string; name: string }; status: Record<string, number | undefined> }>;
    };
    const pending = list.items.filter((w) =>
      w.kind === "Deployment" ? (w.status.readyReplicas ?? 0) < 1 || w.status.readyReplicas !== w.status.replicas : (w.status.numberReady ?? 0) < 1 || w.status.numberReady !== w.status.desiredNumberScheduled,
    );
    if (pending.length > 0) throw new Error(`not ready: ${pending.map((w) => `${w.kind} ${w.metadata.namespace}/${w.metadata.name}`).join(", ")}`);
    return list.items.map((w) => `${w.metadata.namespace}/${w.metadata.name}`);
  };
  const diagnostics = async () => {
    const parts: string[] = [];
    for (const host of [CP, ...workers]) {
      const r = await env.run(host, `journalctl -u kubelet --no-pager -n 30 2>&1; ${KUBECTL} get pods -A -o wide 2>&1 | head -40`);
      parts.push(`=== ${host}\n${r.stdout}${r.stderr}`);
    }
    return parts.join("\n");
  };

  beforeAll(async () => {
    requireRoot();
    toolchain = await ensureToolchain(["kubernetes"]);
    report.push(`toolchain: pulumi ${toolchain.version}, built in this run: ${toolchain.buildMs ? `${(toolchain.buildMs / 1000).toFixed(0)} s` : "no (cached)"}`);
    env = await startTestHosts(HOSTS, { kubernetes: true });
    mirrors = await startMirrors(env, { [RELEASE]: ARTIFACTS });
    // Where the test hosts differ from machines, made as a machine has it before the fingerprint:
    // a machine has /lib/modules (kube-proxy mounts it; containerd makes a missing host path), and
    // /var/lib/containerd, which containerd would make with mode 0700, is the harness's bind mount.
    await Promise.all(HOSTS.map((h) => sh(h, "mkdir -p /usr/lib/modules && chmod 0700 /var/lib/containerd")));
    await Promise.all(HOSTS.map(async (h) => (pristine[h] = await sh(h, hostFingerprintScript()))));

    project = new PulumiProject(toolchain, { name: "kop-engine-cluster", program: PROGRAM });
    await project.expect(["login", project.backend]);
    await project.expect(["stack", "init", "engine", "--secrets-provider", "passphrase"]);
    const doubles = await installDoubles(project);
    const k8s = linkRealPlugin(toolchain, project, "kubernetes");
    report.push(`plugins: command ${doubles.command} and random ${doubles.random} (TEST DOUBLES), kubernetes ${k8s} (real, built by install-pulumi.sh)`);
    await project.expect(["config", "set", "--secret", "cluster:sshPrivateKey"], 0, { stdin: fs.readFileSync(env.host(CP).privateKeyPath, "utf8") });
    writeConfig();
  }, 3_600_000);

  afterAll(async () => {
    if (project) {
      report.push("", "wall time of each pulumi command:");
      for (const t of project.timings) report.push(`  ${(t.ms / 1000).toFixed(1).padStart(6)} s  exit ${t.code}  ${t.command}`);
      if (!process.env.KOP_ENGINE_KEEP) project.remove();
    }
    report.push("", `whole file: ${((Date.now() - started) / 1000).toFixed(0)} s`);
    fs.writeFileSync(REPORT, report.join("\n") + "\n");
    console.log(report.join("\n"));
    await stopMirrors(mirrors);
    await env?.teardown();
  });

  it("pulumi up: every step with the exact command the program declares, every node Ready, the add-ons' workloads running", async () => {
    const t0 = Date.now();
    await project.expect(["up", "--yes", "--skip-preview"], 0, { timeoutMs: UP_TIMEOUT });
    const upMs = Date.now() - t0;
    await until("every node Ready", 300_000, () => nodesReady([CP, ...workers])).catch(async (e: unknown) => {
      throw new Error(`${(e as Error).message}\n${await diagnostics()}`);
    });
    report.push(`pulumi up (${[CP, ...workers].length} hosts) to every node Ready: ${((Date.now() - t0) / 1000).toFixed(1)} s (up itself ${(upMs / 1000).toFixed(1)} s)`);
    let workloads: string[] = [];
    await until("every Deployment and DaemonSet ready", 300_000, async () => ((workloads = await workloadsReady()), true)).catch(async (e: unknown) => {
      throw new Error(`${(e as Error).message}\n${await diagnostics()}`);
    });
    for (const addon of ["kube-flannel/kube-flannel-ds", "kube-system/metrics-server", "local-path-storage/local-path-provisioner"]) expect(workloads).toContain(addon);
    report.push(`workloads ready ${((Date.now() - t0) / 1000).toFixed(1)} s after up started: ${workloads.join(", ")}`);

    const state = resources(await exportState());
    const steps = state.filter((r) => r.type === COMMAND);
    const expected = commands();
    expect(steps.map((r) => r.urn.split("::").pop()).sort()).toEqual([...expected.keys()].sort());
    for (const r of steps) {
      const id = r.urn.split("::").pop()!;
      const [create] = JSON.parse(expected.get(id)!) as [string];
      // The engine's create string carries the applied drift revisions ahead of the runner.
      expect(String(r.outputs?.create ?? "").endsWith(create), `${id}: the create string in the state`).toBe(true);
    }
    // The add-on objects went through the real kubernetes provider.
    expect(state.some((r) => r.type === "kubernetes:apps/v1:DaemonSet")).toBe(true);
  });

  it("pulumi preview --expect-no-changes passes right after", async () => {
    const r = await project.expect(["preview", "--expect-no-changes"]);
    report.push(`no-op preview: ${(r.ms / 1000).toFixed(1)} s`);
  });

  it("pulumi stack export holds no secret in any form", async () => {
    const plain = await exportState();
    const shown = JSON.parse((await project.expect(["stack", "export", "--show-secrets"])).stdout) as unknown;
    const secrets = secretValues(shown);
    // The values the cluster uses, read from the hosts, not from the state.
    const token = await kubectl("-n kube-system get secrets -o jsonpath='{range .items[?(@.type==\"bootstrap.kubernetes.io/token\")]}{.data.token-id} {.data.token-secret}{\"\\n\"}{end}'");
    const tokens = token.split("\n").filter(Boolean).map((l) => l.split(" ").map((b) => Buffer.from(b, "base64").toString("utf8")).join("."));
    expect(tokens.length, "bootstrap tokens in the cluster").toBeGreaterThan(0);
    const clientKey = /client-key-data: (\S+)/.exec(await sh(CP, "cat /etc/kubernetes/admin.conf"))?.[1];
    expect(clientKey, "admin.conf's client key").toBeTruthy();
    const keyLines = fs.readFileSync(env.host(CP).privateKeyPath, "utf8").split("\n").filter((l) => l.length >= 16 && !l.startsWith("-----"));
    // The kubeconfig's client key and the SSH key are secrets of the state, and so is the secret half
    // of kubeadm init's token (RandomPassword's result; the worker-admission step makes others on the host).
    for (const value of [clientKey!, ...keyLines]) expect(secrets, "a secret the cluster uses is a secret in the state").toContain(value);
    expect(tokens.filter((t) => secrets.includes(t.split(".")[1])), `the program's bootstrap token among ${tokens.length} in the cluster`).toHaveLength(1);
    const certificateKey = resources(JSON.stringify(shown)).find((r) => r.urn.endsWith("::certificate-key"))?.outputs?.result as { plaintext?: string } | undefined;
    const keyValue = JSON.parse(certificateKey?.plaintext ?? "null") as string | null;
    expect(keyValue, "kubeadm's certificate key, a secret in the state").toMatch(/^[0-9a-f]{64}$/);
    expect(secrets).toContain(keyValue);
    report.push(`stack export: ${secrets.length} secret values checked in plain text, base64 and hex over ${(plain.length / 1024).toFixed(0)} KB of state`);
    // Whole tokens are secrets only on the steps' stdin, base64-encoded: checked as they are too.
    expect(leaks(plain, [...secrets, ...tokens])).toEqual([]);
  });

  it("changing one mirror updates exactly the steps whose commands change", async () => {
    const before = commands();
    registryMirrors = { "quay.io": [`http://${env.gateway}:5999`] };
    writeConfig();
    const after = commands();
    const changed = [...after.keys()].filter((id) => after.get(id) !== before.get(id)).sort();
    expect(changed.length).toBeGreaterThan(0);
    const ops = operations(await project.expect(["preview", "--json"]));
    expect(ops.steps).toEqual(changed.map((id) => `update ${id}`));
    // Anything else that changes is a drift list of one of those steps.
    for (const o of ops.others) expect(changed.some((id) => o === `update ${managedFilesName(id)}`), o).toBe(true);
    report.push(`mirror change (registryMirrors): ${changed.length} steps updated (${changed.join(", ")}), ${ops.others.length} other operations`);
    await project.expect(["up", "--yes", "--skip-preview"], 0, { timeoutMs: UP_TIMEOUT });
    await project.expect(["preview", "--expect-no-changes"]);
  });

  it("a hand edit on a host is reported by pulumi refresh and repaired by up", async () => {
    const owner = plan().find((s) => s.host === "ew1" && s.files.some((f) => f.path === CRICTL))!;
    const declared = owner.files.find((f) => f.path === CRICTL)!.content;
    await sh("ew1", `sed -i 's/^timeout: .*/timeout: 99/' ${CRICTL} && grep -q '^timeout: 99' ${CRICTL}`);
    await project.expect(["refresh", "--yes"]);
    const drifted = await project.run(["preview", "--expect-no-changes", "--json"]);
    expect(drifted.code, "preview --expect-no-changes after the hand edit").not.toBe(0);
    expect(changedSteps(drifted.stdout)).toContain(`update ${managedFilesName(owner.id)}`);
    await project.expect(["up", "--yes", "--skip-preview"], 0, { timeoutMs: UP_TIMEOUT });
    expect(await sh("ew1", `sha256sum <${CRICTL} | cut -d' ' -f1`), "crictl.yaml as declared again").toBe(sha256(declared));
    await project.expect(["preview", "--expect-no-changes"]);
  });

  it("adding a worker previews exactly its own resources", async () => {
    const before = commands();
    workers = ["ew1", "ew2"];
    writeConfig();
    const after = commands();
    const created = [...after.keys()].filter((id) => !before.has(id)).sort();
    const updated = [...after.keys()].filter((id) => before.has(id) && after.get(id) !== before.get(id)).sort();
    expect(created.length).toBeGreaterThan(0);
    expect(created.every((id) => id.startsWith("ew2/")), created.join(", ")).toBe(true);
    const ops = operations(await project.expect(["preview", "--json"]));
    expect(ops.steps).toEqual([...created.map((id) => `create ${id}`), ...updated.map((id) => `update ${id}`)].sort());
    for (const o of ops.others) expect(o.includes("ew2") || updated.some((id) => o === `update ${managedFilesName(id)}`), o).toBe(true);
    report.push(`adding a worker: ${created.length} steps to create, ${updated.length} to update (${updated.join(", ") || "none"}), ${ops.steps.length + ops.others.length} operations in all`);
  });

  it("its join made to fail: the step's own kop: ERROR reaches the user; fixed, the next up joins it without repeating finished work", async () => {
    // kubeadm join fails on ew2 (a wrapper ahead of the packaged kubeadm on PATH) after its earlier steps have run.
    await sh("ew2", `printf '%s\\n' '#!/bin/sh' 'if [ "$1" = join ]; then echo "${JOIN_FAILURE}" >&2; exit 1; fi' 'exec /usr/bin/kubeadm "$@"' >/usr/local/bin/kubeadm && chmod 755 /usr/local/bin/kubeadm`);
    const failed = await project.run(["up", "--yes", "--skip-preview"], { timeoutMs: UP_TIMEOUT });
    expect(failed.code).not.toBe(0);
    const output = failed.stdout + failed.stderr;
    const joinStep = plan().find((s) => s.host === "ew2" && s.id.includes("join"))!;
    const named = output.indexOf(joinStep.id);
    const cause = output.search(/kop: ERROR: kubeadm join failed/);
    report.push(`failed step: its kop: ERROR line comes ${cause - named} characters after the first mention of ${joinStep.id} in the engine's output`);
    expect(named, output.slice(-3000)).toBeGreaterThanOrEqual(0);
    expect(output).toContain(JOIN_FAILURE);
    expect(cause, output.slice(-3000)).toBeGreaterThan(named);
    // What a user reads first: the step (its host in its name), then the script's own error, not pages of script.
    expect(cause - named, output.slice(named, named + 3000)).toBeLessThan(1500);

    // The program's records on ew2, but for the placed files' copies (applied/): the join re-places the package source it keeps.
    const stamps = `cd /var/lib/kubeadm-on-pulumi && find . -path ./applied -prune -o -type f -printf '%p %T@\\n' | sort`;
    const doneBefore = await sh("ew2", stamps);
    report.push(`ew2's records after the failed up: ${doneBefore.split("\n").map((l) => l.split(" ")[0]).join(" ")}`);
    await sh("ew2", "rm /usr/local/bin/kubeadm");
    // Left: the join itself (recorded by the failed create with its inputs, so an update) and what waits for it.
    const after = plan().filter((s) => s.needs.includes(joinStep.id)).map((s) => `create ${s.id}`);
    const pending = operations(await project.expect(["preview", "--json"]));
    expect(pending.steps).toEqual([`update ${joinStep.id}`, ...after].sort());
    expect(pending.others).toEqual([]);
    const second = await project.expect(["up", "--yes", "--skip-preview"], 0, { timeoutMs: UP_TIMEOUT });
    // The steps the engine ran: the join and what waits for it, nothing that had finished.
    const ran = [...second.stdout.matchAll(new RegExp(`^\\s*\\S+\\s+${COMMAND} (\\S+) (created|updated|replaced|deleted)`, "gm"))].map((m) => `${m[2].replace(/d$/, "")} ${m[1]}`);
    expect(ran.sort()).toEqual([`update ${joinStep.id}`, ...after].sort());
    // Whatever ew2 had finished is as it was: only the join's own records are new.
    const doneAfter = new Set((await sh("ew2", stamps)).split("\n"));
    expect(doneBefore.split("\n").filter((l) => !doneAfter.has(l))).toEqual([]);
    await until("ew2 Ready", 300_000, () => nodesReady([CP, "ew1", "ew2"]));
    await project.expect(["preview", "--expect-no-changes"]);
  });

  it("pulumi destroy leaves every host at its fingerprint from before", async () => {
    await project.expect(["destroy", "--yes", "--skip-preview"], 0, { timeoutMs: UP_TIMEOUT });
    expect(resources(await exportState())).toEqual([]);
    for (const host of HOSTS) {
      const diff = fingerprintDiff(pristine[host], await sh(host, hostFingerprintScript()));
      const left = diff.length ? (await env.run(host, "ps -eo pid,args | grep -E 'kube|flannel|containerd' | grep -v grep")).stdout : "";
      expect(diff, `${host}; processes left:\n${left}`).toEqual([]);
    }
  });
});
