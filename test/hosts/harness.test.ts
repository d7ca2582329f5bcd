/**
 * Proves the test-host harness itself: real Debian 12 hosts booted with
 * systemd-nspawn, real SSH, a real bridge, apt from the Debian mirror, the
 * local Kubernetes package repository, power and link faults, and a teardown
 * that leaves nothing behind.  Fails (never skips) when not root or when a
 * prerequisite is missing: run `bash test/hosts/harness/rootfs.sh` as root first.
 */
import { execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireRoot, startFakeAptRepo, startTestHosts, type FakeAptRepo, type TestHosts } from "./harness";

const ROOT = path.join(__dirname, "..", "..");
const A = "hv1";
const B = "hv2";

describe("test-host harness (systemd-nspawn)", () => {
  let env: TestHosts;
  let repo: FakeAptRepo | undefined;
  const started = Date.now();
  const timings: Record<string, number> = {};

  const sh = async (host: string, script: string, timeoutMs?: number) => {
    const r = await env.run(host, script, { timeoutMs });
    if (r.code !== 0) throw new Error(`${host}: ${script}\nexit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
    return r.stdout.trim();
  };
  /** Exit code of a trivial command over SSH with a short connect timeout (255 = unreachable). */
  const reach = async (host: string) => (await env.run(host, "true", { timeoutMs: 20_000 })).code;

  beforeAll(async () => {
    requireRoot();
    const t0 = Date.now();
    env = await startTestHosts([A, B]);
    timings.startTestHostsMs = Date.now() - t0;
  });

  afterAll(async () => {
    await repo?.stop();
    await env?.teardown();
    timings.totalMs = Date.now() - started;
    console.log(`[harness timings] ${JSON.stringify({ ...timings, bootMs: env?.bootMs })}`);
  });

  it("boots two hosts that answer SSH as root with the run's throwaway key", async () => {
    // Addresses come in order from .11, skipping any held by another run that is up at the same time.
    expect(env.hosts.map((h) => [h.name, h.user, h.port])).toEqual([
      [A, "root", 22],
      [B, "root", 22],
    ]);
    const last = env.hosts.map((h) => Number(/^10\.213\.0\.(\d+)$/.exec(h.address)?.[1]));
    expect(last[0]).toBeGreaterThanOrEqual(11);
    expect(last[1]).toBeGreaterThan(last[0]);
    for (const h of env.hosts) {
      expect(fs.existsSync(h.privateKeyPath)).toBe(true);
      expect(await sh(h.name, "hostname")).toBe(h.name);
      expect(await sh(h.name, "id -u")).toBe("0");
      expect(await sh(h.name, ". /etc/os-release && echo $ID $VERSION_ID")).toBe("debian 12");
      expect(await sh(h.name, "systemctl is-system-running --wait || true")).toMatch(/running|degraded/);
      expect(await sh(h.name, "ip -4 -o addr show dev host0 | awk '{print $4}'")).toBe(`${h.address}/24`);
      expect(await sh(h.name, "ip route show default")).toContain(`via ${env.gateway} dev host0`);
      expect(env.bootMs[h.name]).toBeGreaterThan(0);
    }
    // Each host is its own machine: distinct machine-id and SSH host key.
    const ids = await Promise.all(env.hosts.map((h) => sh(h.name, "cat /etc/machine-id; cat /etc/ssh/ssh_host_ed25519_key.pub")));
    expect(new Set(ids).size).toBe(2);
  });

  it("run(): exit codes, stdin, stderr and large scripts", async () => {
    const r = await env.run(A, "echo out; echo err >&2; exit 7");
    expect(r).toEqual({ code: 7, stdout: "out\n", stderr: "err\n" });
    expect((await env.run(A, "cat | sha256sum | cut -c1-16", { stdin: "hello\n" })).stdout.trim()).toBe(
      "5891b5b522d5df08",
    );
    const big = `x='${"a".repeat(300_000)}'\necho \${#x}`;
    expect(await sh(A, big)).toBe("300000");
    const t = Date.now();
    const slow = await env.run(A, "sleep 30", { timeoutMs: 1_000 });
    expect(slow.code).toBe(124);
    expect(Date.now() - t).toBeLessThan(10_000);
    await env.writeFile(A, "/root/dir/note.txt", "written by the harness\n", 0o600);
    expect(await sh(A, "stat -c '%a' /root/dir/note.txt && cat /root/dir/note.txt")).toBe("600\nwritten by the harness");
  });

  it("commands to a host share one SSH connection: no new login per command, each its own shell", async () => {
    const logins = async () => Number(await sh(A, "journalctl -u ssh.service -o cat | grep -c '^Accepted publickey' || true"));
    const before = await logins();
    expect(before, "the shared connection's own login is in sshd's journal").toBeGreaterThan(0);
    // More at once than sshd's default of 10 sessions per connection (hosts.sh raises it).
    const shells = await Promise.all(Array.from({ length: 16 }, () => sh(A, "echo $$; sleep 1")));
    expect(await logins()).toBe(before);
    expect(new Set(shells).size).toBe(16);
  });

  it("hosts reach each other over the bridge, by address and by name", async () => {
    const [a, b] = env.hosts;
    expect(await sh(A, `ping -c1 -W2 ${b.address} >/dev/null && echo ok`)).toBe("ok");
    expect(await sh(B, `ping -c1 -W2 ${A} >/dev/null && echo ok`)).toBe("ok");
    expect(await sh(A, `timeout 5 bash -c 'exec 3<>/dev/tcp/${B}/22; head -c 7 <&3'`)).toBe("SSH-2.0");
    expect(await sh(B, `getent hosts ${A} | awk '{print $1}'`)).toBe(a.address);
  });

  it("apt works inside a host (Debian mirror through the machine)", async () => {
    const t = Date.now();
    await sh(A, "apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chrony >/dev/null", 600_000);
    timings.aptInstallChronyMs = Date.now() - t;
    expect(await sh(A, "dpkg-query -W -f='${Status}' chrony")).toBe("install ok installed");
    expect(await sh(A, "chronyc --version | head -c 12")).toBe("chronyc (chr");
    // Anything else outside the test subnet is refused.
    expect((await env.run(A, "curl -sS -m 5 -o /dev/null http://192.0.2.1/ 2>&1", { timeoutMs: 20_000 })).code).not.toBe(0);
  });

  it("stopHost powers a host off (unreachable), startHost brings it back with the same disk and address", async () => {
    await sh(B, "echo survives > /root/marker && sync");
    const t = Date.now();
    await env.stopHost(B);
    timings.stopHostMs = Date.now() - t;
    expect(await reach(B)).toBe(255);
    expect((await env.run(A, `ping -c1 -W1 ${B}`)).code).not.toBe(0);
    const t2 = Date.now();
    await env.startHost(B);
    timings.startHostMs = Date.now() - t2;
    expect(await sh(B, "cat /root/marker")).toBe("survives");
    expect(await sh(B, "ip -4 -o addr show dev host0 | awk '{print $4}'")).toBe(`${env.host(B).address}/24`);
    expect(await sh(A, `ping -c1 -W2 ${B} >/dev/null && echo ok`)).toBe("ok");
  });

  it("setLink down cuts a host off while it keeps running; up restores it", async () => {
    await sh(B, "systemd-run --unit=alive sleep 600");
    await env.setLink(B, "down");
    expect(await reach(B)).toBe(255);
    expect((await env.run(A, `ping -c1 -W1 ${B}`)).code).not.toBe(0);
    await env.setLink(B, "up");
    expect(await sh(B, "systemctl is-active alive")).toBe("active");
  });

  it("the fake Kubernetes apt repository serves signed packages that install on a host", async () => {
    repo = await startFakeAptRepo();
    expect(repo.baseUrl).toMatch(/^http:\/\/10\.213\.0\.1:\d+\/core:\/stable:$/);
    const keyring = "/etc/apt/keyrings/kubernetes-apt-keyring.gpg";
    await sh(
      A,
      [
        "set -e",
        "install -d -m 755 /etc/apt/keyrings",
        `curl -fsSL ${repo.keyUrl("1.29")} | gpg --dearmor -o ${keyring}`,
        `echo '${repo.sourcesLine("1.29", keyring)}' > /etc/apt/sources.list.d/kubernetes.list`,
        "apt-get update -q >/dev/null",
        "DEBIAN_FRONTEND=noninteractive apt-get install -y -q kubeadm=1.29.13-1.1 kubelet=1.29.13-1.1 kubectl=1.29.13-1.1 >/dev/null",
        "apt-mark hold kubeadm kubelet kubectl >/dev/null",
        "systemctl enable --now kubelet",
      ].join("\n"),
      300_000,
    );
    expect(await sh(A, "apt-cache madison kubeadm | awk '{print $3}' | sort")).toBe("1.29.13-1.1\n1.29.14-1.1");
    expect(await sh(A, "kubeadm version -o short")).toBe("v1.29.13");
    expect(await sh(A, "kubectl version --client")).toContain("Client Version: v1.29.13");
    expect(await sh(A, "kubelet --version")).toBe("Kubernetes v1.29.13");
    expect(await sh(A, "crictl --version")).toBe("crictl version v1.29.0");
    expect(await sh(A, "systemctl is-enabled kubelet; systemctl is-active kubelet")).toBe("enabled\nactive");
    expect(await sh(A, "dpkg-query -W -f='${Version}' kubernetes-cni")).toBe("1.3.0-1.1");
    // The repository was really used, by the host, and signatures were checked (no [trusted=yes]).
    expect(repo.requests.some((r) => r.path.endsWith("/v1.29/deb/InRelease") && r.status === 200 && r.from.endsWith(env.host(A).address))).toBe(true);
    expect(repo.requests.some((r) => r.path.includes("kubeadm_1.29.13-1.1_amd64.deb"))).toBe(true);
    // The 1.30 repository is separate, as in the real layout.
    expect(await sh(A, `curl -fsS ${repo.repoUrl("1.30")}Packages | grep -A1 '^Package: kubeadm' | sed -n 's/^Version: //p'`)).toBe("1.30.10-1.1");
  });

  it("runs can be up side by side, with the same host names; a run whose test process died is reclaimed by gc", async () => {
    // A second run from another process, killed with SIGKILL like a crashed test: no teardown, no exit hook.
    const child = spawn(path.join(ROOT, "node_modules", ".bin", "tsx"), [path.join(__dirname, "harness", "crash-child.ts"), A], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let err = "";
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const line = await new Promise<string>((resolve, reject) => {
      let out = "";
      child.stdout.on("data", (d: Buffer) => {
        out += d.toString();
        if (out.includes("\n")) resolve(out.split("\n")[0]);
      });
      child.on("exit", (code) => reject(new Error(`crash-child exited (${code}) before starting its host:\n${err}`)));
    });
    const other = JSON.parse(line) as { runDir: string; pid: number; hosts: Array<{ name: string; address: string; veth: string }> };
    // Both runs share the bridge: distinct addresses, and they reach each other.
    expect(env.hosts.map((h) => h.address)).not.toContain(other.hosts[0].address);
    expect(await sh(A, `ping -c1 -W2 ${other.hosts[0].address} >/dev/null && echo ok`)).toBe("ok");
    // tsx runs the script in a child node process: that one is the run's owner.
    const exited = new Promise((r) => child.once("exit", r));
    process.kill(other.pid, "SIGKILL");
    child.kill("SIGKILL");
    await exited;
    const nspawnOf = (run: string) =>
      execFileSync("ps", ["-eo", "args"], { encoding: "utf8" }).split("\n").filter((l) => l.includes("systemd-nspawn") && l.includes(run));
    expect(nspawnOf(other.runDir).length).toBe(1); // leaked, as after a real crash
    execFileSync("bash", [path.join(__dirname, "harness", "hosts.sh"), "gc"], { stdio: "inherit" });
    expect(nspawnOf(other.runDir)).toEqual([]);
    expect(fs.readFileSync("/proc/mounts", "utf8")).not.toContain(other.runDir);
    expect(execFileSync("ip", ["-o", "link"], { encoding: "utf8" })).not.toMatch(new RegExp(`\\b${other.hosts[0].veth}[@:]`));
    // This run was not touched.
    expect(await sh(A, "hostname")).toBe(A);
  });

  it("teardown leaves no nspawn process, veth, overlay mount, bridge or iptables rule behind", async () => {
    const runDir = env.runDir;
    await repo?.stop();
    const t = Date.now();
    await env.teardown();
    timings.teardownMs = Date.now() - t;
    const procs = execFileSync("ps", ["-eo", "args"], { encoding: "utf8" }).split("\n").filter((l) => l.includes("systemd-nspawn") && l.includes(runDir));
    expect(procs).toEqual([]);
    // Nor the hosts' shared SSH connections.
    expect(execFileSync("ps", ["-eo", "args"], { encoding: "utf8" }).split("\n").filter((l) => l.startsWith("ssh") && l.includes(runDir))).toEqual([]);
    const links = execFileSync("ip", ["-o", "link"], { encoding: "utf8" });
    for (const h of env.hosts) expect(links).not.toMatch(new RegExp(`\\b${h.veth}[@:]`));
    expect(fs.readFileSync("/proc/mounts", "utf8")).not.toContain(runDir);
    expect(fs.existsSync(runDir)).toBe(false);
    // The bridge and the rules are shared by the runs that are up: the last one down removes them.
    const registry = "/run/kubeadm-on-pulumi/runs";
    const othersUp = fs.existsSync(registry) && fs.readdirSync(registry).length > 0;
    if (!othersUp) {
      expect(links).not.toContain("kopbr0");
      expect(execFileSync("iptables", ["-w", "-S"], { encoding: "utf8" })).not.toContain("KOP-");
      expect(execFileSync("iptables", ["-w", "-t", "nat", "-S"], { encoding: "utf8" })).not.toContain("KOP-");
    } else {
      console.log(`[harness] other runs are up (${fs.readdirSync(registry).join(", ")}): bridge and rules stay for them`);
    }
  });
});
