/**
 * Engine tier: the drift layer (ManagedFiles lists with their files and units) under the real Pulumi engine, against
 * a real test host. The CLI and nodejs language host are the ones scripts/install-pulumi.sh
 * builds (built here if missing); dynamic providers need no plugin. The program
 * (test/engine/program/index.ts) declares, with the cluster's DriftWiring, the runtime-config
 * step's files and unit and the keepalived-config step's VRRP password file (secret) of one host.
 * The steps are remote.Commands, whose plugin cannot be built here (docs/engine-tests.md): the
 * test runs their scripts where the engine would, after the files they apply.
 *
 *   flock /tmp/kop-hosts.lock npx vitest run --project engine
 *
 * Wall times of every pulumi command go to $KOP_ENGINE_REPORT (default /tmp/kop-engine-report.txt).
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { managedFilesName } from "../../components/drift/wiring";
import { putFile, script, sha256 } from "../../components/remote/shell";
import type { StepSpec } from "../../components/remote/step";
import { requireRoot, startTestHosts, type TestHosts } from "../hosts/harness";
import { applyStep } from "../hosts/steps";
import { engineModel, engineSteps } from "./program/model";
import { changedSteps, ensureToolchain, PulumiProject, type Toolchain } from "./pulumi-cli";

const HOST = "eng1";
const PROGRAM = path.join(__dirname, "program/index.ts");
const REPORT = process.env.KOP_ENGINE_REPORT ?? "/tmp/kop-engine-report.txt";
const CRICTL = "/etc/crictl.yaml";
const CONTAINERD = "/etc/containerd/config.toml";
const VRRP = "/etc/keepalived/kubeadm-on-pulumi-vrrp-auth.conf";
/** What the host has at a path: a checksum, or "absent". */
const fileState = (p: string) => `if [ -e ${p} ]; then sha256sum <${p}; else echo absent; fi`;
/** VRRP passwords are 1 to 8 letters or digits. */
const password = () => randomBytes(4).toString("hex");

describe("engine: drift resources through the real pulumi CLI on a test host", () => {
  let toolchain: Toolchain;
  let env: TestHosts;
  let project: PulumiProject;
  let steps: ReturnType<typeof engineSteps>;
  let privateKey: string;
  /** The VRRP password file as its step places it: the file's kop_put line, the secret on stdin. */
  let placeVrrp: StepSpec;
  const vrrpPassword = password();
  const handPassword = password();
  const report: string[] = [];
  const started = Date.now();
  let hostOriginalContainerd = "";

  const sh = async (cmd: string) => {
    const r = await env.run(HOST, cmd);
    if (r.code !== 0) throw new Error(`${cmd}\nexit ${r.code}\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  };
  const runSteps = (...specs: StepSpec[]) => Promise.all(specs.map((s) => applyStep(env, s, { secrets: { vrrp_auth: vrrpPassword } })));
  const declared = (p: string) => steps.runtimeConfig.files.find((f) => f.path === p)!.content;
  const revisions = async () => JSON.parse((await project.expect(["stack", "output", "revisions", "--json"])).stdout) as Record<string, number>;
  const RUNTIME_FILES = () => managedFilesName(steps.runtimeConfig.id);
  const VRRP_FILES = () => managedFilesName(steps.keepalivedConfig.id);

  beforeAll(async () => {
    requireRoot();
    toolchain = await ensureToolchain();
    report.push(`toolchain: ${toolchain.bin} (pulumi ${toolchain.version}), built in this run: ${toolchain.buildMs ? `${(toolchain.buildMs / 1000).toFixed(0)} s` : "no (cached)"}`);
    env = await startTestHosts([HOST]);
    const host = env.host(HOST);
    privateKey = fs.readFileSync(host.privateKeyPath, "utf8");
    steps = engineSteps(engineModel({ name: HOST, address: host.address, port: host.port }, "engine"), HOST);
    const vrrpFile = steps.keepalivedConfig.files.find((f) => f.secret)!;
    placeVrrp = { ...steps.keepalivedConfig, script: script("place the VRRP password file", putFile(vrrpFile), [vrrpFile.secret!.name]) };
    const install = await applyStep(env, steps.runtimeInstall);
    report.push(`runtime-install (containerd from Debian) on ${HOST}: ${(install.ms / 1000).toFixed(1)} s`);
    hostOriginalContainerd = await sh(fileState(CONTAINERD));

    project = new PulumiProject(toolchain, { name: "kop-engine", program: PROGRAM });
    await project.expect(["login", project.backend]);
    await project.expect(["stack", "init", "engine", "--secrets-provider", "passphrase"]);
    for (const [k, v] of [["host", HOST], ["address", host.address], ["port", String(host.port)]]) await project.expect(["config", "set", k, v]);
    await project.expect(["config", "set", "--secret", "sshPrivateKey"], 0, { stdin: privateKey });
  }, 3_600_000);

  afterAll(async () => {
    const total = ((Date.now() - started) / 1000).toFixed(0);
    if (project) {
      report.push("", "wall time of each pulumi command:");
      for (const t of project.timings) report.push(`  ${(t.ms / 1000).toFixed(1).padStart(6)} s  exit ${t.code}  ${t.command}`);
      if (!process.env.KOP_ENGINE_KEEP) project.remove();
    }
    report.push("", `whole file: ${total} s`);
    fs.writeFileSync(REPORT, report.join("\n") + "\n");
    console.log(report.join("\n"));
    await env?.teardown();
  });

  it("pulumi up creates the managed files and the unit; the steps then apply them", async () => {
    await project.expect(["up", "--yes"]);
    expect(sha256(await sh(`cat ${CRICTL}`))).toBe(sha256(declared(CRICTL)));
    expect(sha256(await sh(`cat ${CONTAINERD}`))).toBe(sha256(declared(CONTAINERD)));
    expect((await sh("systemctl is-active containerd.service")).trim()).toBe("active");
    // The secret file is written by its step from stdin, never by the provider.
    expect((await sh(`test -e ${VRRP} && echo present || echo absent`)).trim()).toBe("absent");
    await runSteps(steps.runtimeConfig, placeVrrp);
    expect((await sh(`cat ${VRRP}`))).toBe(vrrpPassword);
    expect(await revisions()).toEqual({ "runtime-config": 1, "keepalived-config": 1 });
  });

  it("is idempotent: preview --expect-no-changes passes, before and after a refresh", async () => {
    await project.expect(["preview", "--expect-no-changes"]);
    await project.expect(["refresh", "--yes"]);
    await project.expect(["preview", "--expect-no-changes"]);
  });

  it("a sandbox-image change is an update of the runtime-config step's files and nothing else", async () => {
    await project.expect(["config", "set", "sandboxImage", "registry.example.com/pause:3.9"]);
    const preview = await project.expect(["preview", "--json"]);
    expect(changedSteps(preview.stdout)).toEqual([`update ${RUNTIME_FILES()}`]);
    await project.expect(["config", "rm", "sandboxImage"]);
    await project.expect(["preview", "--expect-no-changes"]);
  });

  it("hand changes: refresh records them, preview names exactly those resources, up puts them back", async () => {
    await sh(
      [
        `sed -i 's/^timeout: .*/timeout: 99/' ${CRICTL} && grep -q '^timeout: 99' ${CRICTL}`,
        `printf '%s' ${handPassword} >${VRRP}`,
        "systemctl stop containerd.service",
      ].join("\n"),
    );
    await project.expect(["refresh", "--yes"]);
    const drifted = await project.run(["preview", "--expect-no-changes", "--json"]);
    expect(drifted.code, "preview --expect-no-changes must fail after the hand changes").not.toBe(0);
    // crictl.yaml edited and containerd stopped: both in runtime-config's ManagedFiles (the host's first, with its units).
    expect(changedSteps(drifted.stdout).sort()).toEqual([`update ${RUNTIME_FILES()}`, `update ${VRRP_FILES()}`].sort());

    await project.expect(["up", "--yes"]);
    expect(sha256(await sh(`cat ${CRICTL}`))).toBe(sha256(declared(CRICTL)));
    expect((await sh("systemctl is-active containerd.service")).trim()).toBe("active");
    // The repairs moved the revisions of exactly the two steps' files: those steps' commands change, they re-run.
    expect(await revisions()).toEqual({ "runtime-config": 2, "keepalived-config": 2 });
    await runSteps(steps.runtimeConfig, placeVrrp);
    expect(await sh(`cat ${VRRP}`)).toBe(vrrpPassword);
    await project.expect(["refresh", "--yes"]);
    await project.expect(["preview", "--expect-no-changes"]);
  });

  it("the state holds no plaintext secret: neither password nor the private key", async () => {
    const exported = (await project.expect(["stack", "export"])).stdout;
    expect(exported).toContain(VRRP_FILES());
    expect(exported).toContain(VRRP);
    for (const secret of [vrrpPassword, handPassword, sha256(vrrpPassword), sha256(handPassword)]) expect(exported).not.toContain(secret);
    const keyLines = privateKey.split("\n").filter((l) => l.length > 16 && !l.startsWith("-----"));
    expect(keyLines.length).toBeGreaterThan(0);
    for (const line of keyLines) expect(exported).not.toContain(line);
    // The key is there, encrypted: a secret value in every drift resource.
    expect(exported).toContain("4dabf18193072939515e22adb298388d");
  });

  it("each drift resource keeps at most 5 KB in the state beyond its own data", async () => {
    // What a drift resource carries besides what it checks (files, hashes, unit states): its
    // provider's code (`__provider`, input and output) and its connection, in inputs and outputs.
    const PLUMBING = ["__provider", "host", "address", "port", "user", "privateKey", "hostKey", "sudo"];
    const exported = JSON.parse((await project.expect(["stack", "export"])).stdout) as {
      deployment: { resources: Array<{ urn: string; type: string; inputs?: Record<string, unknown>; outputs?: Record<string, unknown> }> };
    };
    const drift = exported.deployment.resources.filter((r) => r.type.startsWith("pulumi-nodejs:dynamic"));
    expect(drift.length).toBeGreaterThan(0);
    const sizes = drift.map((r) => {
      const plumbing = (props: Record<string, unknown> = {}) => JSON.stringify(Object.fromEntries(PLUMBING.filter((k) => k in props).map((k) => [k, props[k]]))).length;
      return { name: r.urn.split("::").pop()!, total: JSON.stringify(r).length, overhead: plumbing(r.inputs) + plumbing(r.outputs) };
    });
    report.push("", "state per drift resource (bytes: whole resource / provider code and connection):");
    for (const s of sizes) report.push(`  ${String(s.total).padStart(7)} / ${String(s.overhead).padStart(6)}  ${s.name}`);
    for (const s of sizes) expect(s.overhead, s.name).toBeLessThanOrEqual(5 * 1024);
  });

  it("pulumi destroy removes the resources; the steps' delete scripts restore the host", async () => {
    await project.expect(["destroy", "--yes"]);
    const exported = (await project.expect(["stack", "export"])).stdout;
    expect(exported).not.toContain("kop:ManagedFiles");
    // Deleting a drift resource changes nothing on the host (docs/drift.md): the step's delete does.
    expect(sha256(await sh(`cat ${CRICTL}`))).toBe(sha256(declared(CRICTL)));
    for (const step of [steps.runtimeConfig, steps.keepalivedConfig]) await applyStep(env, step, { which: "delete", secrets: { vrrp_auth: vrrpPassword } });
    expect((await sh(`for p in ${CRICTL} ${VRRP}; do test -e $p && echo "$p present"; done; true`)).trim()).toBe("");
    expect(await sh(fileState(CONTAINERD))).toBe(hostOriginalContainerd);
  });
});
