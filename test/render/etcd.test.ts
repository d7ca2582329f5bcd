import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { modelFromObject, type ClusterModel, type HostModel } from "../../components/config";
import { renderBackupScript, renderBackupService, renderBackupTimer, BACKUP_SCRIPT } from "../../components/etcd/backup";
import { MEMBER_FUNCTIONS, memberConfig, memberVariables, renderEtcdUnit, renderInitialClusterEnv, type EtcdMemberConfig } from "../../components/etcd/member";
import { ETCD_CA_DIR, renderApiserverClientCertStep, renderCaStep, renderMemberCertsStep } from "../../components/etcd/pki";
import { PRELUDE } from "../../components/remote/shell";
import { requireTool, run } from "../support/tools";

/**
 * A real etcd cluster (Debian's etcd-server, 3.4 on bookworm) on loopback addresses, started
 * from the rendered units with certificates made by the shipped PKI scripts.
 */
const CLIENT_PORT = 23790;
const PEER_PORT = 23800;
const work = fs.mkdtempSync(path.join(os.tmpdir(), "kop-etcd-render-"));
const caDir = path.join(work, "ca");
const processes: ChildProcess[] = [];

function testModel(members: number): ClusterModel {
  return onLoopback(
    modelFromObject({
      kubernetes: { version: "1.29.13" },
      etcd: { topology: "external", source: "distro", clientPort: CLIENT_PORT, peerPort: PEER_PORT, backup: { retention: 2 } },
      hosts: [
        { name: "cp1", address: "10.0.0.11", roles: ["control-plane"] },
        ...Array.from({ length: members }, (_, i) => ({ name: `e${i + 1}`, address: `10.0.1.${i + 1}`, roles: ["etcd"] })),
      ],
    }),
  );
}

/**
 * Stand-in: the members all run on this machine, so after validation (which refuses loopback
 * host addresses) each member's 10.0.1.N becomes 127.0.1.N, before anything is rendered.
 */
function onLoopback(m: ClusterModel): ClusterModel {
  for (const h of m.etcdMembers) h.address = h.internalAddress = h.address.replace(/^10\.0\.1\./, "127.0.1.");
  return m;
}
// Five members in the config; e1-e3 start as the cluster, e4 joins it through member.sh.
const model = testModel(5);
const member = (name: string): HostModel => model.etcdMembers.find((m) => m.name === name)!;

/** A rendered PKI script run here, its CA directory moved into the scratch directory. */
function runPkiScript(text: string): string {
  const result = run("bash", ["-c", text.split(ETCD_CA_DIR).join(caDir)]);
  if (result.code !== 0) throw new Error(`PKI script failed (${result.code}):\n${result.stderr}`);
  return result.stdout;
}

function unbundle(bundle: string): Record<string, string> {
  return Object.fromEntries(
    bundle
      .trim()
      .split("\n")
      .map((line) => [line.slice(0, line.indexOf("=")), Buffer.from(line.slice(line.indexOf("=") + 1), "base64").toString("utf8")]),
  );
}

/** A member's config with its certificates and data in the scratch directory. */
function localConfig(name: string): EtcdMemberConfig {
  return { ...memberConfig(model, member(name)), pkiDir: path.join(work, name, "pki"), dataDir: path.join(work, name, "data") };
}

function placeMemberCerts(name: string, bundle: Record<string, string>): void {
  const dir = localConfig(name).pkiDir;
  fs.mkdirSync(dir, { recursive: true });
  for (const [key, file] of Object.entries({ ca_crt: "ca.crt", server_crt: "server.crt", server_key: "server.key", peer_crt: "peer.crt", peer_key: "peer.key" })) {
    fs.writeFileSync(path.join(dir, file), bundle[key], { mode: key.endsWith("key") ? 0o600 : 0o644 });
  }
}

/** argv of the unit's ExecStart (continuation lines joined). */
function execStart(unit: string): string[] {
  const start = unit.indexOf("ExecStart=");
  const lines: string[] = [];
  for (const line of unit.slice(start + "ExecStart=".length).split("\n")) {
    lines.push(line.replace(/\\$/, "").trim());
    if (!line.endsWith("\\")) break;
  }
  return lines.join(" ").split(/\s+/).filter(Boolean);
}

function envFile(text: string): Record<string, string> {
  return Object.fromEntries(text.trim().split("\n").map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
}

function startMember(name: string, initialEnv: string): void {
  const [binary, ...args] = execStart(renderEtcdUnit(localConfig(name)));
  const log = fs.openSync(path.join(work, `${name}.log`), "a");
  const child = spawn(binary, args, { env: { ...process.env, ...envFile(initialEnv) }, stdio: ["ignore", log, log] });
  processes.push(child);
}

const clientDir = path.join(work, "client");
const etcdctl = (endpoints: string[], args: string[], tls: "client" | "none" | "foreign" = "client") => {
  const creds =
    tls === "none"
      ? [`--cacert=${clientDir}/ca.crt`]
      : tls === "foreign"
        ? [`--cacert=${clientDir}/ca.crt`, `--cert=${work}/foreign/client.crt`, `--key=${work}/foreign/client.key`]
        : [`--cacert=${clientDir}/ca.crt`, `--cert=${clientDir}/client.crt`, `--key=${clientDir}/client.key`];
  return run("etcdctl", [`--endpoints=${endpoints.join(",")}`, ...creds, "--dial-timeout=3s", "--command-timeout=10s", ...args]);
};
const urlOf = (name: string) => memberConfig(model, member(name)).clientUrl;
const initial = ["e1", "e2", "e3"];

async function waitHealthy(names: string[]): Promise<void> {
  for (let i = 0; i < 60; i++) {
    if (etcdctl(names.map(urlOf), ["endpoint", "health"]).code === 0) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`etcd members ${names} did not become healthy:\n${names.map((n) => fs.readFileSync(path.join(work, `${n}.log`), "utf8").slice(-2000)).join("\n")}`);
}

/** member.sh run here, with a member's variables pointed at the scratch directory. */
function memberShell(name: string, commands: string): { code: number; stdout: string; stderr: string } {
  const c = localConfig(name);
  const text = [
    "set -euo pipefail",
    PRELUDE,
    // Bookkeeping of placed files stays in the scratch directory too.
    `KOP_APPLIED=${path.join(work, "applied")}`,
    MEMBER_FUNCTIONS,
    memberVariables(model, member(name)),
    `ETCD_PKI=${c.pkiDir}`,
    `ETCD_DATA_DIR=${c.dataDir}`,
    `ETCD_INITIAL_ENV=${path.join(work, name, "initial-cluster.env")}`,
    commands,
  ].join("\n");
  return run("bash", ["-c", text]);
}

beforeAll(async () => {
  requireTool("etcd", "etcd-server");
  requireTool("etcdctl", "etcd-client");
  requireTool("openssl", "openssl");
  runPkiScript(renderCaStep(model).script);
  for (const name of ["e1", "e2", "e3", "e4"]) placeMemberCerts(name, unbundle(runPkiScript(renderMemberCertsStep(model, member(name)).script)));
  const client = unbundle(runPkiScript(renderApiserverClientCertStep(model).script));
  fs.mkdirSync(clientDir, { recursive: true });
  fs.writeFileSync(path.join(clientDir, "ca.crt"), client.ca_crt);
  fs.writeFileSync(path.join(clientDir, "client.crt"), client.client_crt);
  fs.writeFileSync(path.join(clientDir, "client.key"), client.client_key, { mode: 0o600 });
  // A certificate from another CA, to show the cluster trusts its own CA only.
  fs.mkdirSync(path.join(work, "foreign"));
  const foreign = `cd ${work}/foreign && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout client.key -out client.crt -subj /CN=intruder -days 1 2>/dev/null`;
  if (run("bash", ["-c", foreign]).code !== 0) throw new Error("cannot make the foreign certificate");

  const cluster = renderInitialClusterEnv(
    initial.map((n) => ({ name: n, peerUrl: memberConfig(model, member(n)).peerUrl })),
    "new",
  );
  for (const name of initial) startMember(name, cluster);
  await waitHealthy(initial);
}, 120_000);

afterAll(() => {
  for (const child of processes) if (child.exitCode === null) child.kill("SIGKILL");
  fs.rmSync(work, { recursive: true, force: true });
});

describe("etcd render tier: a real 3-member cluster from the rendered units", () => {
  it("is healthy over TLS with the API server's client certificate", () => {
    const health = etcdctl([urlOf("e1")], ["endpoint", "health", "--cluster"]);
    // etcdctl 3.4 prints health on stderr.
    const report = health.stdout + health.stderr;
    expect(report).not.toContain("unhealthy");
    expect(health.code).toBe(0);
    expect(report.match(/is healthy/g)).toHaveLength(3);
    expect(etcdctl(initial.map(urlOf), ["put", "/kop/render", "ok"]).code).toBe(0);
    expect(etcdctl([urlOf("e3")], ["get", "/kop/render", "--print-value-only"]).stdout.trim()).toBe("ok");
  });

  it("refuses a client without a certificate, and one with a certificate from another CA", () => {
    // etcdctl only sees a deadline; the member's log names the reason: the TLS handshake was refused.
    const log = () => fs.readFileSync(path.join(work, "e1.log"), "utf8");
    const bare = etcdctl([urlOf("e1")], ["get", "/kop/render", "--command-timeout=2s"], "none");
    expect(bare.code).not.toBe(0);
    expect(bare.stdout).toBe("");
    expect(log()).toMatch(/rejected connection.*didn't provide a certificate/);
    const foreign = etcdctl([urlOf("e1")], ["get", "/kop/render", "--command-timeout=2s"], "foreign");
    expect(foreign.code).not.toBe(0);
    expect(foreign.stdout).toBe("");
    expect(log()).toMatch(/rejected connection.*unknown authority/);
  });

  it("a fourth member joins as a learner through member.sh, is promoted, and leaves again", async () => {
    const join = memberShell("e4", 'via=$(kop_etcd_healthy "${ETCD_OTHER_CLIENT_URLS[@]}")\nkop_etcd_join "$via"\ncat "$ETCD_INITIAL_ENV"');
    expect(join.code, join.stderr).toBe(0);
    const env = envFile(join.stdout.split("\n").filter((l) => l.startsWith("ETCD_")).join("\n"));
    expect(env.ETCD_INITIAL_CLUSTER_STATE).toBe("existing");
    expect(env.ETCD_INITIAL_CLUSTER.split(",").sort()).toEqual(
      ["e1", "e2", "e3", "e4"].map((n) => `${n}=${memberConfig(model, member(n)).peerUrl}`).sort(),
    );
    // Repeating the join reuses the unstarted entry instead of adding a second one.
    expect(memberShell("e4", 'kop_etcd_join "$(kop_etcd_healthy "${ETCD_OTHER_CLIENT_URLS[@]}")"').code).toBe(0);
    const listed = etcdctl([urlOf("e1")], ["member", "list"]).stdout.trim().split("\n");
    expect(listed).toHaveLength(4);
    expect(listed.filter((l) => l.endsWith(", true"))).toHaveLength(1);

    startMember("e4", `ETCD_INITIAL_CLUSTER=${env.ETCD_INITIAL_CLUSTER}\nETCD_INITIAL_CLUSTER_STATE=existing\n`);
    const promote = memberShell("e4", "kop_etcd_promote");
    expect(promote.code, promote.stderr).toBe(0);
    await waitHealthy(["e1", "e2", "e3", "e4"]);
    expect(etcdctl([urlOf("e4")], ["get", "/kop/render", "--print-value-only"]).stdout.trim()).toBe("ok");
    expect(etcdctl([urlOf("e1")], ["member", "list"]).stdout).not.toContain(", true");

    const leave = memberShell("e4", "kop_etcd_leave");
    expect(leave.code, leave.stderr).toBe(0);
    expect(leave.stdout.trim()).toBe("wipe");
    expect(leave.stderr).toContain("removed e4");
    const after = etcdctl([urlOf("e1")], ["member", "list"]).stdout.trim().split("\n");
    expect(after.map((l) => l.split(", ")[2]).sort()).toEqual(initial);
    expect(etcdctl(initial.map(urlOf), ["endpoint", "health"]).code).toBe(0);
  }, 120_000);

  it("the backup script saves snapshots etcdctl accepts and keeps the newest ones", async () => {
    const c = { ...localConfig("e1"), etcdctl: "/usr/bin/etcdctl" };
    const dir = path.join(work, "backups");
    const script = path.join(work, "etcd-backup");
    fs.writeFileSync(script, renderBackupScript(c, { ...model.etcd.backup, dir }), { mode: 0o755 });
    for (let i = 0; i < 3; i++) {
      const saved = run("sh", [script]);
      expect(saved.code, saved.stderr).toBe(0);
      await new Promise((r) => setTimeout(r, 1100)); // snapshot names carry the second
    }
    const snapshots = fs.readdirSync(dir).sort();
    expect(snapshots).toHaveLength(2);
    for (const s of snapshots) expect(s).toMatch(/^etcd-e1-\d{8}T\d{6}Z\.db$/);
    const status = run("etcdctl", ["snapshot", "status", path.join(dir, snapshots[1]), "-w", "json"]);
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout).totalKey).toBeGreaterThan(0);
  });
});

describe("etcd render tier: units pass systemd-analyze verify", () => {
  it("member unit, snapshot service and timer", () => {
    const analyze = requireTool("systemd-analyze", "systemd");
    const dir = path.join(work, "units");
    fs.mkdirSync(dir, { recursive: true });
    const c = memberConfig(model, member("e1"));
    const backup = path.join(dir, "etcd-backup");
    fs.writeFileSync(backup, renderBackupScript(c, model.etcd.backup), { mode: 0o755 });
    fs.writeFileSync(path.join(dir, "etcd.service"), renderEtcdUnit(c));
    // ExecStart must exist for verify: the script is checked from the scratch directory.
    fs.writeFileSync(path.join(dir, "etcd-backup.service"), renderBackupService(c).replace(BACKUP_SCRIPT, backup));
    fs.writeFileSync(path.join(dir, "etcd-backup.timer"), renderBackupTimer(model.etcd.backup));
    const verify = run(analyze, ["verify", ...["etcd.service", "etcd-backup.service", "etcd-backup.timer"].map((u) => path.join(dir, u))]);
    expect(verify.stderr + verify.stdout).toBe("");
    expect(verify.code).toBe(0);
    const calendar = run(analyze, ["calendar", model.etcd.backup.schedule]);
    expect(calendar.code, calendar.stderr).toBe(0);
    expect(run("shellcheck", ["-s", "sh", backup]).stdout).toBe("");
  });

  it("the release unit differs from the distro unit only in the binary path", () => {
    const release = onLoopback(modelFromObject({ ...testModelSection(), etcd: { topology: "external", source: "release", clientPort: CLIENT_PORT, peerPort: PEER_PORT } }));
    const unit = renderEtcdUnit(memberConfig(release, release.etcdMembers[0]));
    expect(unit).toContain("ExecStart=/usr/local/bin/etcd \\");
    expect(unit.replace("/usr/local/bin/etcd", "/usr/bin/etcd")).toBe(renderEtcdUnit(memberConfig(model, member("e1"))));
  });
});

function testModelSection(): Record<string, unknown> {
  return {
    kubernetes: { version: "1.29.13" },
    hosts: [
      { name: "cp1", address: "10.0.0.11", roles: ["control-plane"] },
      ...["e1", "e2", "e3"].map((name, i) => ({ name, address: `10.0.1.${i + 1}`, roles: ["etcd"] })),
    ],
  };
}
