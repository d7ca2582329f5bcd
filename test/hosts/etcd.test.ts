/**
 * Hosts tier for external etcd (issue 5): a real cluster on test hosts, built by running the
 * planned step scripts over SSH the way the engine would: steps in dependency order (in
 * parallel where the graph allows), secrets on stdin as "NAME=base64" lines, and the secret
 * stdout of the certificate steps fed forward to the steps that read it.
 *
 * Distro packages (Debian's etcd-server 3.4) are the cluster's source here. Release tarballs
 * cannot be downloaded on the test machines: the release install step is run against a local
 * mirror whose tarball holds this machine's Debian etcd binaries (real download, checksum,
 * unpacking, user and removal; not an upstream build).
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { modelFromObject, type ClusterModel } from "../../components/config";
import { etcdMemberId } from "../../components/etcd/plan";
import { planCluster } from "../../components/plan";
import type { ClusterPlan, StepSpec } from "../../components/remote/step";
import { requireRoot, startTestHosts, type TestHosts } from "./harness";
import { serveDirectory } from "./harness/file-server";
import { fingerprintDiff, hostFingerprintScript } from "./fingerprint";
import { applyStep, execStep, fingerprintScript, stdinLines } from "./steps";

const CP = "cp1";
const MEMBERS = ["e1", "e2", "e3", "e4", "e5"];
/** etcdctl with a member's own settings (ETCDCTL_* from the file it documents for operators). */
const ETCDCTL = "set -a; . /etc/etcd/etcdctl.env; set +a; etcdctl --dial-timeout=3s";
/** The same against other endpoints: with the file loaded, --endpoints would clash with ETCDCTL_ENDPOINTS. */
const etcdctlTo = (endpoints: string) => `set -a; . /etc/etcd/etcdctl.env; ETCDCTL_ENDPOINTS=${endpoints}; set +a; etcdctl --dial-timeout=3s`;

describe("external etcd on real Debian 12 hosts", () => {
  let env: TestHosts;
  let addresses: Map<string, string>;
  /** Secret step outputs so far, by secret name (what the engine keeps in the state). */
  const outputs: Record<string, string> = {};
  /** What each step last ran with, to run only new or changed steps like the engine. */
  const applied = new Map<string, string>();
  const pristine = new Map<string, string>();
  /** Each host as a whole before its first step (fingerprint.ts). */
  const pristineHost = new Map<string, string>();
  const timings: Record<string, number> = {};
  let current: ClusterPlan;
  let largest: ClusterPlan;

  const modelOf = (members: string[]): ClusterModel =>
    modelFromObject(
      {
        kubernetes: { version: "1.29.13" },
        etcd: { topology: "external", source: "distro", backup: { retention: 2, keepOnDelete: false } },
        hosts: [
          { name: CP, address: addresses.get(CP), roles: ["control-plane"] },
          ...members.map((name) => ({ name, address: addresses.get(name), roles: ["etcd"] })),
        ],
      },
      "etcd-hosts",
    );
  const urlOf = (name: string) => `https://${addresses.get(name)}:2379`;

  const sh = async (host: string, script: string, stdin?: string) => {
    const r = await env.run(host, script, { stdin });
    if (r.code !== 0) throw new Error(`${host}: ${script}\nexit ${r.code}\n${r.stdout}\n${r.stderr}`);
    return r.stdout.trim();
  };
  /** etcdctl on a member with its own certificate (the member's /etc/etcd/etcdctl.env). */
  const etcdctl = (host: string, args: string) => env.run(host, `${ETCDCTL} ${args}`);
  const memberList = async (via: string) =>
    (await sh(via, `${ETCDCTL} member list -w simple`)).split("\n").map((line) => {
      const [id, status, name, peer, client, learner] = line.split(", ");
      return { id, status, name, peer, client, learner: learner === "true" };
    });
  const expectHealthy = async (via: string, members: string[]) => {
    const listed = await memberList(via);
    expect(listed.map((m) => m.name).sort()).toEqual([...members].sort());
    expect(listed.every((m) => m.status === "started" && !m.learner)).toBe(true);
    const health = await etcdctl(via, "endpoint health --cluster");
    expect(health.code, health.stderr).toBe(0);
    // etcdctl 3.4 reports health on stderr.
    expect((health.stdout + health.stderr).match(/ is healthy/g)).toHaveLength(members.length);
  };

  /** Files and state the etcd steps touch on a host (plus the users and packages). */
  const fingerprint = async (host: string) => {
    // Paths from the largest plan, so every fingerprint of a host lists the same things.
    const files = [...new Set(largest.steps.filter((s) => s.host === host && s.layer === "etcd").flatMap((s) => s.files.map((f) => f.path)))];
    const binaries = ["/usr/bin/etcd", "/usr/bin/etcdctl", "/usr/local/bin/etcd", "/usr/local/bin/etcdctl", "/usr/local/bin/etcdutl"];
    const script = fingerprintScript(
      [...files, "/etc/etcd/initial-cluster.env", ...binaries],
      ["etcd.service", "etcd-backup.timer"],
      ["/etc/etcd", "/etc/etcd/pki", "/etc/etcd/ca", "/etc/etcd/ca/issued", "/var/lib/etcd", "/var/backups/etcd", "/etc/kubernetes/pki", "/etc/kubernetes/pki/etcd", "/etc/systemd/system", "/etc/systemd/system/multi-user.target.wants", "/etc/systemd/system/timers.target.wants", "/var/lib/kubeadm-on-pulumi/packages"],
    );
    return sh(host, `${script}\necho "user $(getent passwd etcd || true) group $(getent group etcd || true)"`);
  };

  /**
   * Runs steps like `pulumi up`: each after the steps it needs (those outside `steps` count as
   * done), independent ones in parallel; a producer's stdout becomes its secret.
   */
  const apply = async (plan: ClusterPlan, steps: StepSpec[], after?: (step: StepSpec) => Promise<void>) => {
    const producers = new Map(Object.entries(plan.outputSecrets).map(([secret, id]) => [id, secret]));
    const running = new Map<string, Promise<void>>();
    for (const step of steps) {
      const needs = step.needs.map((id) => running.get(id)).filter((p): p is Promise<void> => p !== undefined);
      running.set(
        step.id,
        Promise.all(needs).then(async () => {
          const result = await applyStep(env, step, { secrets: outputs }).catch(async (e: Error) => {
            throw new Error(`${e.message}\n${await etcdJournals(plan)}`);
          });
          timings[step.id] = result.ms;
          applied.set(step.id, step.script + stdinLines(step.secrets, outputs));
          const secret = producers.get(step.id);
          if (secret) outputs[secret] = result.stdout.trim();
          await after?.(step);
        }),
      );
    }
    const results = await Promise.allSettled(running.values());
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
  };
  /** The etcd logs of a plan's members, for failure messages. */
  const etcdJournals = async (plan: ClusterPlan) => {
    const hosts = [...new Set(plan.steps.filter((s) => s.id.endsWith("/etcd-member")).map((s) => s.host))];
    const logs = await Promise.all(
      hosts.map(async (h) => `--- journal of etcd on ${h}\n${(await env.run(h, "journalctl -u etcd.service --no-pager -n 40 -o cat | cut -c1-400")).stdout}`),
    );
    return logs.join("\n");
  };
  /** The steps `pulumi up` would run: new ones, and those whose script or stdin changed (a secret not produced yet counts as a change). */
  const changedSteps = (steps: StepSpec[]) =>
    steps.filter((s) => !s.secrets.every((name) => name in outputs) || applied.get(s.id) !== s.script + stdinLines(s.secrets, outputs));
  /** Deletes like the engine: dependents first (reverse declaration order). */
  const destroy = async (steps: StepSpec[], times = 1, after?: (step: StepSpec) => Promise<void>) => {
    for (const step of [...steps].reverse()) {
      // The engine sends a step's stdin to its delete too.
      for (let i = 0; i < times; i++) await applyStep(env, step, { which: "delete", secrets: outputs });
      applied.delete(step.id);
      await after?.(step);
    }
  };
  const etcdSteps = (plan: ClusterPlan, hosts?: string[]) => plan.steps.filter((s) => s.layer === "etcd" && (!hosts || hosts.includes(s.host)));
  const hostSteps = (plan: ClusterPlan, hosts: string[]) => plan.steps.filter((s) => s.layer === "hosts" && hosts.includes(s.host));

  beforeAll(async () => {
    requireRoot();
    env = await startTestHosts([CP, ...MEMBERS]);
    addresses = new Map(env.hosts.map((h) => [h.name, h.address]));
    for (const host of [CP, ...MEMBERS]) pristineHost.set(host, await sh(host, hostFingerprintScript()));
    // The OS layer of the etcd hosts first (another layer's steps): the fingerprints start after it.
    const all = planCluster(modelOf(MEMBERS));
    current = largest = all;
    await apply(all, hostSteps(all, MEMBERS));
    for (const host of [CP, ...MEMBERS]) pristine.set(host, await fingerprint(host));
  });

  afterAll(async () => {
    if (Object.keys(timings).length > 0) console.log(`etcd step timings (ms): ${JSON.stringify(timings)}`);
    await env?.teardown();
  });

  it("builds a 3-member cluster over TLS; every step run twice changes nothing", async () => {
    current = planCluster(modelOf(["e1", "e2", "e3"]));
    const steps = etcdSteps(current);
    await apply(current, steps);
    await expectHealthy("e1", ["e1", "e2", "e3"]);
    const pids = await Promise.all(["e1", "e2", "e3"].map((h) => sh(h, "systemctl show -p MainPID --value etcd.service")));
    const bundles = { ...outputs };
    const before = await Promise.all(["e1", "e2", "e3", CP].map(fingerprint));

    for (const step of steps) applied.delete(step.id);
    await apply(current, steps);
    expect(outputs).toEqual(bundles); // the certificate steps print the same bundles: nothing downstream changes
    expect(await Promise.all(["e1", "e2", "e3", CP].map(fingerprint))).toEqual(before);
    expect(await Promise.all(["e1", "e2", "e3"].map((h) => sh(h, "systemctl show -p MainPID --value etcd.service")))).toEqual(pids);

    // Plain TCP clients and clients without a certificate get nothing.
    const bare = await env.run("e2", `etcdctl --endpoints=${urlOf("e1")} --cacert=/etc/etcd/pki/ca.crt --command-timeout=3s get /x`);
    expect(bare.code).not.toBe(0);
    const plain = await env.run("e2", `etcdctl --endpoints=http://${addresses.get("e1")}:2379 --command-timeout=3s get /x`);
    expect(plain.code).not.toBe(0);
    // The API server's client certificate, as placed on the control plane, is accepted.
    const cert = await sh(CP, "cat /etc/kubernetes/pki/apiserver-etcd-client.crt");
    const key = await sh(CP, "stat -c '%a %U' /etc/kubernetes/pki/apiserver-etcd-client.key; base64 -w0 /etc/kubernetes/pki/apiserver-etcd-client.key");
    const [mode, keyB64] = key.split("\n");
    expect(mode).toBe("600 root");
    await sh("e2", `umask 077; printf '%s\\n' '${cert}' >/tmp/client.crt; echo ${keyB64} | base64 -d >/tmp/client.key`);
    expect(await sh("e2", `etcdctl --endpoints=${urlOf("e3")} --cacert=/etc/etcd/pki/ca.crt --cert=/tmp/client.crt --key=/tmp/client.key put /kop/apiserver ok`)).toBe("OK");
    await sh("e2", "rm -f /tmp/client.crt /tmp/client.key");
  });

  it("keeps quorum with one member down, refuses writes with two down, and loses nothing", async () => {
    const all = ["e1", "e2", "e3"].map(urlOf).join(",");
    const put = (key: string) => env.run("e1", `${etcdctlTo(all)} --command-timeout=5s put ${key} v`);
    for (const key of ["/kop/a", "/kop/b"]) expect((await put(key)).code).toBe(0);

    await env.stopHost("e3");
    const oneDown = await put("/kop/c");
    expect(oneDown.code, oneDown.stderr).toBe(0);

    await sh("e2", "systemctl stop etcd.service");
    const twoDown = await put("/kop/d");
    expect(twoDown.code).not.toBe(0);
    expect(twoDown.stderr).toMatch(/context deadline exceeded|request timed out|leader changed|no leader/);

    await env.startHost("e3"); // etcd is enabled: it starts at boot and rejoins
    await sh("e2", "systemctl start etcd.service");
    for (let i = 0; i < 60; i++) {
      if ((await etcdctl("e1", "endpoint health --cluster")).code === 0) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    await expectHealthy("e1", ["e1", "e2", "e3"]);
    // Serializable reads: what each member itself holds. Every acknowledged write is on every
    // member. The refused write's outcome was unknown to the client: it stayed in the leader's
    // log and may have committed once the quorum came back, on all members alike.
    const held = await Promise.all(
      ["e1", "e2", "e3"].map(async (member) => (await sh(member, `${ETCDCTL} get /kop/ --prefix --keys-only --consistency=s`)).split("\n").filter(Boolean).sort()),
    );
    expect(held[0]).toEqual(expect.arrayContaining(["/kop/a", "/kop/apiserver", "/kop/b", "/kop/c"]));
    expect(held[1]).toEqual(held[0]);
    expect(held[2]).toEqual(held[0]);
  });

  it("adds a fourth and a fifth member one at a time, healthy after each", async () => {
    current = planCluster(modelOf(MEMBERS));
    const steps = [...hostSteps(current, MEMBERS), ...etcdSteps(current)];
    const toRun = changedSteps(steps);
    // New steps for the new hosts, and the existing members learn the new members' URLs.
    expect(toRun.filter((s) => s.layer === "etcd" && ["e1", "e2", "e3"].includes(s.host)).map((s) => s.id).sort()).toEqual(
      ["e1/etcd-ca", "e1/etcd-certs-e4", "e1/etcd-certs-e5", "e1/etcd-member", "e2/etcd-member", "e3/etcd-member"].sort(),
    );
    const healthyAfter: string[] = [];
    await apply(current, toRun, async (step) => {
      if (step.id === etcdMemberId("e4")) await expectHealthy("e1", ["e1", "e2", "e3", "e4"]);
      if (step.id === etcdMemberId("e5")) await expectHealthy("e1", MEMBERS);
      if (step.id.endsWith("/etcd-member")) healthyAfter.push(step.id);
    });
    expect(healthyAfter).toEqual(["e1", "e2", "e3", "e4", "e5"].map(etcdMemberId));
    expect(await sh("e5", `${ETCDCTL} get /kop/c --print-value-only`)).toBe("v");
  });

  it("removes members (5 to 3): each leaves its cluster before it stops, and leaves no trace", async () => {
    const previous = current;
    current = planCluster(modelOf(["e1", "e3", "e4"]));
    const kept = new Set(current.steps.map((s) => s.id));
    await apply(current, changedSteps(etcdSteps(current)));
    const removed = etcdSteps(previous).filter((s) => !kept.has(s.id));
    expect(removed.filter((s) => s.id.endsWith("/etcd-member")).map((s) => s.id)).toEqual([etcdMemberId("e2"), etcdMemberId("e5")]);
    const remaining = new Set(["e1", "e2", "e3", "e4", "e5"]);
    await destroy(removed, 2, async (step) => {
      if (!step.id.endsWith("/etcd-member")) return;
      remaining.delete(step.host);
      await expectHealthy("e1", [...remaining]);
    });
    for (const host of ["e2", "e5"]) expect(await fingerprint(host), host).toBe(pristine.get(host));
    expect(await sh("e1", "ls /etc/etcd/ca/issued")).toBe(["apiserver-etcd-client.crt", "apiserver-etcd-client.key", "apiserver-etcd-client.spec", "e1", "e3", "e4"].join("\n"));
    expect(await sh("e4", `${ETCDCTL} get /kop/ --prefix --keys-only`)).toContain("/kop/c");
  });

  it("release source: installs a tarball from a mirror after checking SHA256SUMS, refuses a tampered one, removes it cleanly", async () => {
    // A mirror laid out like the upstream releases, holding this machine's etcd 3.4.23 binaries.
    const mirror = await startReleaseMirror(env.gateway, [
      { version: "3.4.23", honest: true },
      { version: "3.4.24", honest: false },
    ]);
    try {
      const release = (version: string) => {
        const m = modelFromObject(
          {
            kubernetes: { version: "1.29.13" },
            etcd: { topology: "external", source: "release", version },
            mirrors: { releases: { etcd: mirror.baseUrl } },
            hosts: [
              { name: CP, address: addresses.get(CP), roles: ["control-plane"] },
              { name: "e2", address: addresses.get("e2"), roles: ["etcd"] },
            ],
          },
          "etcd-hosts",
        );
        return planCluster(m).steps.find((s) => s.id === "e2/etcd-install")!;
      };
      const install = release("3.4.23");
      await applyStep(env, install);
      const state = await fingerprint("e2");
      await applyStep(env, install);
      expect(await fingerprint("e2")).toBe(state);
      expect(await sh("e2", "/usr/local/bin/etcd --version | head -1; /usr/local/bin/etcdctl version | head -1; id -un etcd")).toBe(
        "etcd Version: 3.4.23\netcdctl version: 3.4.23\netcd",
      );
      expect(mirror.requests).toEqual(["/releases/v3.4.23/etcd-v3.4.23-linux-amd64.tar.gz", "/releases/v3.4.23/SHA256SUMS"]);
      const tampered = await execStep(env, release("3.4.24"));
      expect(tampered.code).not.toBe(0);
      expect(tampered.stderr).toContain("etcd-v3.4.24-linux-amd64.tar.gz does not match its SHA256SUMS entry");
      await applyStep(env, install, { which: "delete", secrets: outputs });
      expect(await fingerprint("e2")).toBe(pristine.get("e2"));
    } finally {
      await mirror.stop();
    }
  });

  it("the snapshot timer's service saves a snapshot that etcdctl accepts", async () => {
    expect(await sh("e3", "systemctl is-enabled etcd-backup.timer; systemctl is-active etcd-backup.timer")).toBe("enabled\nactive");
    await sh("e3", "systemctl start etcd-backup.service");
    const file = await sh("e3", "ls /var/backups/etcd/etcd-e3-*.db");
    expect(await sh("e3", `stat -c %a ${file}`)).toBe("600");
    const status = JSON.parse(await sh("e3", `etcdctl snapshot status ${file} -w json`));
    expect(status.totalKey).toBeGreaterThan(0);
  });

  it("destroying the cluster (every delete run twice) leaves no trace on any host", async () => {
    const steps = etcdSteps(current);
    const log: string[] = [];
    await destroy(steps, 2, async (step) => {
      if (step.id.endsWith("/etcd-member")) log.push(step.host);
    });
    expect(log).toEqual(["e4", "e3", "e1"]);
    for (const host of [CP, "e1", "e3", "e4"]) expect(await fingerprint(host), host).toBe(pristine.get(host));
  });

  it("then destroying the OS layer leaves every host as it was before its first step", async () => {
    const all = planCluster(modelOf(MEMBERS));
    await destroy(hostSteps(all, MEMBERS));
    for (const host of [CP, ...MEMBERS]) expect(fingerprintDiff(pristineHost.get(host)!, await sh(host, hostFingerprintScript())), host).toEqual([]);
  });
});

/**
 * An HTTP mirror of etcd releases on the test bridge: <base>/v<version>/etcd-v<version>-linux-amd64.tar.gz
 * and SHA256SUMS, the tarball holding this machine's etcd and etcdctl (Debian's 3.4.23).
 * A dishonest version's SHA256SUMS lists a wrong checksum.
 */
async function startReleaseMirror(
  address: string,
  versions: Array<{ version: string; honest: boolean }>,
): Promise<{ baseUrl: string; requests: string[]; stop(): Promise<void> }> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "kop-etcd-mirror-"));
  for (const { version, honest } of versions) {
    const name = `etcd-v${version}-linux-amd64`;
    const dir = path.join(root, "releases", `v${version}`);
    fs.mkdirSync(path.join(dir, name), { recursive: true });
    for (const binary of ["etcd", "etcdctl"]) fs.copyFileSync(`/usr/bin/${binary}`, path.join(dir, name, binary));
    execFileSync("tar", ["-czf", `${name}.tar.gz`, name], { cwd: dir });
    fs.rmSync(path.join(dir, name), { recursive: true });
    const sum = honest ? createHash("sha256").update(fs.readFileSync(path.join(dir, `${name}.tar.gz`))).digest("hex") : "0".repeat(64);
    fs.writeFileSync(path.join(dir, "SHA256SUMS"), `${sum}  ${name}.tar.gz\n`);
  }
  const server = await serveDirectory(root, address);
  return { baseUrl: `${server.url}/releases`, requests: server.requests, stop: server.stop };
}
