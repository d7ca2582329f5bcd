/**
 * Hosts tier for drift detection (issue 9). One Debian 12 host is provisioned by the rendered
 * scripts of the hosts, runtime and load-balancer layers (colocated HAProxy + keepalived, so
 * haproxy.cfg and containerd live on the same host), with the drift resources declared around
 * each step in the engine's order: the step's ManagedFiles, then the step; the host's first
 * ManagedFiles also lists the host's units. Then by hand: haproxy.cfg edited and containerd stopped. A
 * refresh (the providers' read, as `pulumi refresh` calls it) must report exactly those two; the
 * update puts them back, the one step whose files' revision moved (haproxy-config) re-runs and
 * reloads HAProxy, and a second refresh is clean.
 * Last, the host's link goes down: a refresh reports it unreachable and keeps its state.
 *
 *   flock /tmp/kop-hosts.lock npx vitest run --project hosts test/hosts/drift.test.ts
 *
 * The report (also in docs/drift.md) goes to $KOP_DRIFT_REPORT (default /tmp/kop-drift-report.txt).
 */
import * as fs from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { modelFromObject } from "../../components/config";
import { managedFilesProvider, type ManagedFilesInputs, type ManagedFilesState } from "../../components/drift/grouped";
import { managedFilesName } from "../../components/drift/wiring";
import { closeSshPool, sshPool } from "../../components/drift/ssh";
import { planCluster } from "../../components/plan";
import { sha256 } from "../../components/remote/shell";
import type { StepSpec } from "../../components/remote/step";
import { requireRoot, startTestHosts, type TestHosts } from "./harness";
import { applyStep, shellOn } from "./steps";

const HOST = "cp1";
const VIP = "10.213.0.100";
const SECRETS = { vrrp_auth: "Dr1ftPw7" };
const REPORT = process.env.KOP_DRIFT_REPORT ?? "/tmp/kop-drift-report.txt";
const files = managedFilesProvider as Required<typeof managedFilesProvider>;

interface Tracked<I, S> {
  name: string;
  step: string;
  inputs: I;
  id: string;
  state: S;
}

describe("drift: refresh reports hand changes on a real host, up puts them back", () => {
  let env: TestHosts;
  let steps: StepSpec[];
  const managedFiles: Array<Tracked<ManagedFilesInputs, ManagedFilesState>> = [];
  const allFiles = () => managedFiles.flatMap((f) => f.inputs.files);
  let unitList: string[] = [];
  const report: string[] = [];
  const log = (line = "") => {
    report.push(line);
    console.log(line);
  };
  const sh = (script: string) => shellOn(env, HOST)(script);
  /** What the step's command carries (components/remote/remote-step.ts): its script and its files' revision. */
  const triggersOf = (step: StepSpec) => JSON.stringify([sha256(step.script), ...managedFiles.filter((f) => f.step === step.id).map((f) => f.state.revision)]);

  /** `pulumi refresh`: every drift resource read back; returns the reported differences. */
  const refresh = async (title: string) => {
    const started = Date.now();
    const reads = await Promise.all([
      ...managedFiles.map(async (f) => ({ f, r: await files.read(f.id, f.state) })),
    ]);
    const found: string[] = [];
    for (const entry of reads) {
      const tracked = entry.f;
      expect(entry.r.id, `${tracked.name} must not read as deleted`).toBe(tracked.id);
      tracked.state = entry.r.props as never;
      const state = entry.r.props as { unreachable?: string; files?: Array<{ path: string; drift: string[] }>; units?: Array<{ unit: string; drift: string[] }> };
      if (state.unreachable) found.push(`${tracked.name}: UNREACHABLE (${state.unreachable}); last known state kept`);
      else for (const item of [...(state.files ?? []).map((f) => ({ what: f.path, drift: f.drift })), ...(state.units ?? []).map((u) => ({ what: u.unit, drift: u.drift }))]) {
        for (const d of item.drift) found.push(`${tracked.name}: ${item.what}: ${d}`);
      }
    }
    const ms = Date.now() - started;
    log(`$ refresh (${title}): ${managedFiles.length} step file lists (${allFiles().length} files, ${unitList.length} units) read in ${ms} ms`);
    for (const line of found.length ? found : ["(no drift)"]) log(`    ${line}`);
    return { found, ms };
  };

  beforeAll(async () => {
    requireRoot();
    env = await startTestHosts([HOST]);
    const host = env.host(HOST);
    const model = modelFromObject(
      {
        kubernetes: { version: "1.29.13" },
        loadBalancer: { mode: "colocated", vip: VIP, interface: "host0" },
        // Colocated balancers need more than one control plane; cp2 and cp3 stay in the model only
        // (addresses on the test bridge where nothing answers: HAProxy marks them down).
        hosts: [
          { name: HOST, address: host.address, roles: ["control-plane"] },
          { name: "cp2", address: "10.213.0.250", roles: ["control-plane"] },
          { name: "cp3", address: "10.213.0.251", roles: ["control-plane"] },
        ],
      },
      "drift-hosts-test",
    );
    steps = planCluster(model).steps.filter((s) => s.host === HOST && ["hosts", "runtime", "load-balancer"].includes(s.layer));
    const connection: Pick<ManagedFilesInputs, "host" | "connection"> = {
      host: HOST,
      connection: { address: host.address, port: host.port, user: host.user, privateKey: fs.readFileSync(host.privateKeyPath, "utf8"), sudo: false },
    };
    // The engine's order: a step's ManagedFiles, then the step; the host's first ManagedFiles lists its units.
    unitList = [...new Set(steps.flatMap((s) => s.units ?? []))];
    for (const step of steps) {
      if (step.files.length > 0) {
        const first = managedFiles.length === 0;
        const inputs: ManagedFilesInputs = {
          ...connection,
          step: step.id,
          ...(first ? { units: unitList.map((unit) => ({ unit, enabled: true, active: true })) } : {}),
          files: step.files.map((file) => ({
            path: file.path,
            mode: file.mode,
            secret: Boolean(file.secret),
            ...(file.secret ? {} : { content: file.content, contentHash: sha256(file.content) }),
          })),
        };
        const created = await files.create(inputs);
        managedFiles.push({ name: managedFilesName(step.id), step: step.id, inputs, id: created.id, state: created.outs });
      }
      await applyStep(env, step, { secrets: SECRETS });
    }
    log(`provisioned ${HOST} (${host.address}): ${steps.map((s) => s.id.split("/")[1]).join(", ")}`);
    log(`managed files: ${allFiles().map((f) => f.path + (f.secret ? " (secret)" : "")).join(", ")}`);
    log(`managed units: ${unitList.join(", ")}`);
  }, 1_200_000);

  afterAll(async () => {
    if (report.length) fs.writeFileSync(REPORT, report.join("\n") + "\n");
    await closeSshPool();
    await env?.teardown();
  });

  it("declares the files and units of every layer it provisioned", () => {
    expect(allFiles().map((f) => f.path)).toEqual(
      expect.arrayContaining(["/etc/containerd/config.toml", "/etc/crictl.yaml", "/etc/haproxy/haproxy.cfg", "/etc/keepalived/keepalived.conf", "/etc/sysctl.d/99-kubeadm-on-pulumi.conf"]),
    );
    expect(allFiles().filter((f) => f.secret).map((f) => f.path)).toEqual(["/etc/keepalived/kubeadm-on-pulumi-vrrp-auth.conf"]);
    expect(managedFiles[0].inputs.units?.map((x) => x.unit).sort()).toEqual(["containerd.service", "haproxy.service", "keepalived.service"]);
    expect(managedFiles.slice(1).every((f) => f.inputs.units === undefined)).toBe(true);
  });

  it("a refresh right after provisioning is clean, over one SSH connection", async () => {
    const dials = sshPool().dials;
    expect((await refresh("after provisioning")).found).toEqual([]);
    expect(sshPool().dials - dials).toBe(0);
  });

  it("reports exactly the hand edit of haproxy.cfg and the stopped containerd, then up puts both back", async () => {
    log("");
    log("$ # by hand on cp1: shorten the client timeout in haproxy.cfg and reload HAProxy; stop containerd");
    await sh("sed -i 's/timeout client 1h/timeout client 5m/' /etc/haproxy/haproxy.cfg && grep -q 'timeout client 5m' /etc/haproxy/haproxy.cfg && systemctl reload haproxy && systemctl stop containerd");
    const { found } = await refresh("after the hand changes");
    expect(found).toEqual([
      `${managedFiles[0].name}: containerd.service: inactive (declared active)`,
      `${managedFilesName(`${HOST}/haproxy-config`)}: /etc/haproxy/haproxy.cfg: content differs from the declared file`,
    ]);
    const haproxy = managedFiles.find((f) => f.step === `${HOST}/haproxy-config`)!;
    expect(haproxy.state.files.find((f) => f.path === "/etc/haproxy/haproxy.cfg")!.content).toContain("timeout client 5m");

    // `pulumi up`: diff every resource against the program; update the ones that differ.
    const changed: string[] = [];
    for (const f of managedFiles) if ((await files.diff(f.id, f.state, f.inputs)).changes) changed.push(f.name);
    expect(changed.sort()).toEqual([managedFiles[0].name, haproxy.name].sort());

    const before = new Map(steps.map((s) => [s.id, triggersOf(s)]));
    const workerBefore = await sh("pgrep -P \"$(systemctl show -p MainPID --value haproxy)\" | sort | tr '\\n' ' '");
    for (const f of managedFiles.filter((x) => changed.includes(x.name))) f.state = (await files.update(f.id, f.state, f.inputs)).outs as ManagedFilesState;
    const rerun = steps.filter((s) => before.get(s.id) !== triggersOf(s));
    expect(rerun.map((s) => s.id)).toEqual([`${HOST}/haproxy-config`]);
    log("");
    log(`$ up: updated ${changed.join(", ")}; steps whose triggers moved: ${rerun.map((s) => s.id).join(", ")}`);
    for (const step of rerun) await applyStep(env, step, { secrets: SECRETS });

    expect(await sh("grep -c 'timeout client 5m' /etc/haproxy/haproxy.cfg || true")).toBe("0");
    expect(await sh("systemctl is-active containerd")).toBe("active");
    // The step saw the file already repaired, yet reloaded HAProxy: new workers, same master.
    const workerAfter = await sh("pgrep -P \"$(systemctl show -p MainPID --value haproxy)\" | sort | tr '\\n' ' '");
    expect(workerAfter).not.toBe(workerBefore);
    log(`    haproxy.cfg back to the declared content; HAProxy reloaded (workers ${workerBefore.trim()} -> ${workerAfter.trim()}); containerd active`);
    log("");
    expect((await refresh("after up")).found).toEqual([]);
  });

  it("a refresh that cannot reach the host keeps the last known state and says so", async () => {
    await closeSshPool(); // a new `pulumi refresh` is a new provider process: no pooled connection
    await env.setLink(HOST, "down");
    try {
      log("");
      log(`$ # ${HOST}'s link down`);
      const { found, ms } = await refresh("host cut off");
      expect(found.length).toBe(managedFiles.length);
      expect(found.every((line) => line.includes("UNREACHABLE"))).toBe(true);
      expect(ms).toBeLessThan(60_000);
      for (const f of managedFiles) expect((await files.diff(f.id, f.state, f.inputs)).changes).toBe(true);
    } finally {
      await env.setLink(HOST, "up");
    }
    await closeSshPool();
    log("");
    log(`$ # link up again`);
    expect((await refresh("host back")).found).toEqual([]);
  });
});
