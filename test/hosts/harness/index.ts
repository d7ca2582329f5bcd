/**
 * Real test hosts for the hosts tier: Debian 12 machines booted with
 * systemd-nspawn (copy-on-write overlays of one cached rootfs) on a private
 * bridge (10.213.0.0/24, machine side 10.213.0.1), reached over real SSH as
 * root with a throwaway ed25519 key.  See hosts.sh and rootfs.sh.
 *
 *   requireRoot();                       // throws, loudly, when the tier cannot run
 *   const env = await startTestHosts(["cp1", "w1"]);
 *   const r = await env.run("cp1", "hostname");   // { code, stdout, stderr }
 *   await env.teardown();
 */
import { execFile, execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

export { buildFakeAptRepo, startFakeAptRepo, type FakeAptRepo, type FakeAptRepoOptions, type FakeAptRequest } from "./fake-apt-repo";
export { startImageRegistry, type ImageRegistry, type ImageRegistryOptions } from "./image-registry";

const HERE = __dirname;
const HOSTS_SH = path.join(HERE, "hosts.sh");
const ROOTFS_SH = path.join(HERE, "rootfs.sh");
/** hosts.sh's registry of the runs that are up on this machine (its STATE/runs). */
const RUNS = "/run/kubeadm-on-pulumi/runs";

export interface TestHost {
  name: string;
  address: string;
  user: string;
  port: number;
  privateKeyPath: string;
  /** The host's port on the machine's bridge (hosts.sh names it after the host's address). */
  veth: string;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Sent to the script's standard input. */
  stdin?: string | Buffer;
  /** Kill the local ssh after this long and return code 124 (default 600 000). */
  timeoutMs?: number;
}

export interface TestHosts {
  hosts: TestHost[];
  /** The run directory (key, per-host overlays, console logs). */
  runDir: string;
  /** The bridge's machine-side address (10.213.0.1): hosts reach the machine there. */
  gateway: string;
  bridge: string;
  /** Milliseconds from boot to the first SSH answer, per host (latest boot). */
  bootMs: Record<string, number>;
  host(name: string): TestHost;
  /** Runs a bash script on a host over ssh; never throws for a non-zero exit (255 = ssh could not connect). */
  run(name: string, script: string, opts?: RunOptions): Promise<RunResult>;
  /**
   * Sends `command` as the command of one SSH exec request, byte for byte (the login user's shell
   * runs it with -c), with `stdin`: what the command provider does with a step's create or delete
   * string. Never throws for a non-zero exit.
   */
  exec(name: string, command: string, opts?: RunOptions): Promise<RunResult>;
  /** Copies a local file to the host (mode: the local file's unless given). */
  copy(name: string, localPath: string, remotePath: string, mode?: number): Promise<void>;
  writeFile(name: string, remotePath: string, content: string | Buffer, mode?: number): Promise<void>;
  /** Powers the host off (SIGTERM to its nspawn: a clean shutdown); disk and address are kept. */
  stopHost(name: string): Promise<void>;
  /** Boots a stopped host again from the same disk, waits until SSH answers. */
  startHost(name: string): Promise<void>;
  /** Takes the host's bridge port up or down (down = the host is cut off, still running). */
  setLink(name: string, state: "up" | "down"): Promise<void>;
  /** Stops every host and removes overlays, veths, bridge and iptables rules. Idempotent. */
  teardown(): Promise<void>;
}

export interface StartOptions {
  /** Run directory; default a fresh /tmp/kop-hosts-XXXXXX. */
  runDir?: string;
  /** Seconds to wait for SSH per host (default 120). */
  bootTimeoutSeconds?: number;
  /** Extra systemd-nspawn arguments for every host. */
  nspawnArgs?: string[];
  /** Debian release of the hosts: "bookworm" (Debian 12, default) or "trixie" (Debian 13); each has its cached rootfs. */
  suite?: "bookworm" | "trixie";
  /**
   * Hosts that can run a real kubelet (kubernetes-host.sh): all capabilities, /dev/kmsg, their own
   * data directories on the machine's filesystem for containerd, the kubelet and etcd, and a boot
   * unit with this machine's workarounds (cgroup v1 controllers read-write, /proc/sys values).
   */
  kubernetes?: boolean;
}

const SSH_OPTS = [
  "-o", "StrictHostKeyChecking=no",
  "-o", "UserKnownHostsFile=/dev/null",
  "-o", "BatchMode=yes",
  "-o", "LogLevel=ERROR",
  "-o", "ConnectTimeout=5",
  "-o", "ServerAliveInterval=5",
  "-o", "ServerAliveCountMax=3",
];

/** Commands the tier needs on the machine, and the Debian package that has each. */
const PREREQUISITES: Record<string, string> = {
  "systemd-nspawn": "systemd-container",
  debootstrap: "debootstrap",
  ssh: "openssh-client",
  "ssh-keygen": "openssh-client",
  iptables: "iptables",
  ip: "iproute2",
  nsenter: "util-linux",
  flock: "util-linux",
  mount: "mount",
  "dpkg-deb": "dpkg",
  "dpkg-scanpackages": "dpkg-dev",
  gpg: "gnupg",
  bash: "bash",
};

function onPath(cmd: string): boolean {
  return (process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin")
    .split(":")
    .concat(["/usr/sbin", "/sbin"])
    .some((dir) => {
      try {
        fs.accessSync(path.join(dir, cmd), fs.constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
}

/**
 * Throws (never skips) when the hosts tier cannot run here: not root, a
 * command missing, or a kernel feature missing.  `bash test/hosts/harness/rootfs.sh`
 * as root installs the commands and builds the cached rootfs.
 */
export function requireRoot(): void {
  const problems: string[] = [];
  if (typeof process.getuid !== "function" || process.getuid() !== 0) {
    problems.push(`not running as root (uid ${process.getuid?.() ?? "unknown"}): systemd-nspawn, bridges and iptables need root`);
  }
  const missing = Object.keys(PREREQUISITES).filter((cmd) => !onPath(cmd));
  if (missing.length > 0) {
    const pkgs = [...new Set(missing.map((c) => PREREQUISITES[c]))].join(" ");
    problems.push(`missing commands: ${missing.join(", ")} (Debian packages: ${pkgs})`);
  }
  let filesystems = "";
  try {
    filesystems = fs.readFileSync("/proc/filesystems", "utf8");
  } catch {
    /* reported below */
  }
  if (!/\toverlay\n/.test(filesystems)) problems.push("the kernel has no overlayfs (test hosts boot from overlays)");
  if (!fs.existsSync("/sys/fs/cgroup")) problems.push("no /sys/fs/cgroup: systemd-nspawn cannot boot a host");
  if (problems.length > 0) {
    throw new Error(
      [
        "HOSTS TIER CANNOT RUN — this is a failure, not a skip:",
        ...problems.map((p) => `  - ${p}`),
        "Fix: run the hosts tier as root, after running once, as root:",
        `  bash ${ROOTFS_SH}`,
        "  (it installs the prerequisites with apt-get and builds the cached host rootfs)",
      ].join("\n"),
    );
  }
}

interface ScriptResult {
  stdout: string;
  stderr: string;
}

function hostsSh(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 900_000): Promise<ScriptResult> {
  return new Promise((resolve, reject) => {
    execFile("bash", [HOSTS_SH, ...args], { env, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      // hosts.sh reports progress and timings on stderr: show them.
      if (stderr) process.stderr.write(stderr);
      if (err) reject(new Error(`hosts.sh ${args.join(" ")} failed: ${err.message}\n${stderr}`));
      else resolve({ stdout, stderr });
    });
  });
}

interface UpJson {
  run: string;
  bridge: string;
  gateway: string;
  privateKeyPath: string;
  hosts: Array<TestHost & { bootMs: number | null }>;
}

const live = new Set<string>();
let exitHookInstalled = false;

/** Last resort when a test process exits without teardown(): down every run it still has. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const run of live) {
      try {
        execFileSync("bash", [HOSTS_SH, "down"], { env: { ...process.env, KOP_HOSTS_RUN: run }, stdio: "ignore", timeout: 120_000 });
      } catch {
        /* the next run's gc picks it up */
      }
    }
  });
}

export async function startTestHosts(names: string[], opts: StartOptions = {}): Promise<TestHosts> {
  requireRoot();
  if (names.length === 0) throw new Error("startTestHosts: no host names");
  const runDir = opts.runDir ?? fs.mkdtempSync("/tmp/kop-hosts-");
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    KOP_HOSTS_RUN: runDir,
    KOP_HOSTS_OWNER_PID: String(process.pid),
  };
  if (opts.bootTimeoutSeconds !== undefined) env.KOP_HOSTS_BOOT_TIMEOUT = String(opts.bootTimeoutSeconds);
  if (opts.nspawnArgs) env.KOP_HOSTS_NSPAWN_ARGS = opts.nspawnArgs.join(" ");
  if (opts.suite) env.KOP_HOSTS_SUITE = opts.suite;
  if (opts.kubernetes) env.KOP_HOSTS_KUBERNETES = "1";

  // Runs left behind by test processes that died (their owner is gone).
  await hostsSh(["gc"], env);
  installExitHook();
  live.add(runDir);
  let up: UpJson;
  try {
    const { stdout } = await hostsSh(["up", ...names], env);
    up = JSON.parse(stdout) as UpJson;
  } catch (e) {
    await hostsSh(["down"], env).catch(() => undefined);
    live.delete(runDir);
    throw e;
  }

  const hosts: TestHost[] = up.hosts.map((h) => ({
    name: h.name,
    address: h.address,
    user: h.user,
    port: h.port,
    privateKeyPath: h.privateKeyPath,
    veth: h.veth,
  }));
  const bootMs: Record<string, number> = {};
  for (const h of up.hosts) if (h.bootMs !== null) bootMs[h.name] = h.bootMs;

  const host = (name: string): TestHost => {
    const h = hosts.find((x) => x.name === name);
    if (!h) throw new Error(`no test host named ${name} (have: ${hosts.map((x) => x.name).join(", ")})`);
    return h;
  };

  /**
   * What the machine knows about a host ssh could not reach: its bridge port, its process, who
   * answers for its address (two MACs = another run's host holds the same address).
   */
  const unreachableReport = (h: TestHost): string => {
    const probe = (cmd: string, args: string[]) => {
      try {
        return execFileSync(cmd, args, { encoding: "utf8", timeout: 10_000, stdio: ["ignore", "pipe", "pipe"] }).trim() || "(nothing)";
      } catch (e) {
        return `(${cmd} failed: ${(e as Error).message.split("\n")[0]})`;
      }
    };
    const dir = path.join(up.run, "hosts", h.name);
    const read = (f: string) => (fs.existsSync(path.join(dir, f)) ? fs.readFileSync(path.join(dir, f), "utf8").trim() : "(none)");
    const pid = Number(read("nspawn.pid"));
    const alive = Number.isInteger(pid) && pid > 0 && fs.existsSync(`/proc/${pid}`);
    return [
      `[harness] ${h.name} (${h.address}) did not answer ssh:`,
      `  nspawn pid ${read("nspawn.pid")} ${alive ? "running" : "NOT running"}; link set by the test: ${read("link")}`,
      `  bridge port: ${probe("ip", ["-br", "link", "show", "dev", h.veth])}`,
      `  neighbours for ${h.address}: ${probe("ip", ["neigh", "show", "to", h.address])}`,
      `  test-host runs on this machine: ${fs.existsSync(RUNS) ? fs.readdirSync(RUNS).join(" ") : "(none)"}`,
      "",
    ].join("\n");
  };

  // One SSH connection per host, shared by every command sent to it (ssh's connection sharing). A new
  // connection costs a key exchange and a PAM login (0.07–0.18 s of CPU on the host, 0.12 s here), and
  // the tiers send thousands of commands while two cores also run the test hosts' clusters. A command
  // still gets its own session and shell, as with a connection of its own. The connection is opened
  // before a command when the host has none and is not cut off; stopHost and setLink close it first,
  // so a command to a host that is off or cut off dials on its own and fails within ConnectTimeout.
  const controlDir = path.join(up.run, "ssh");
  fs.mkdirSync(controlDir, { recursive: true, mode: 0o700 });
  const controlPath = (name: string) => path.join(controlDir, name);
  const destination = (h: TestHost) => ["-o", `ControlPath=${controlPath(h.name)}`, "-p", String(h.port), `${h.user}@${h.address}`];
  const cutOff = new Set<string>();
  const opening = new Map<string, Promise<void>>();
  const openConnection = (name: string): Promise<void> => {
    if (cutOff.has(name) || fs.existsSync(controlPath(name))) return Promise.resolve();
    let p = opening.get(name);
    if (!p) {
      const h = host(name);
      p = new Promise<void>((resolve) => {
        // -f: backgrounds once logged in; its output is not ours to wait for.
        const child = spawn("ssh", [...SSH_OPTS, "-M", "-N", "-f", "-o", "ControlPersist=yes", "-i", h.privateKeyPath, ...destination(h)], { stdio: "ignore" });
        child.on("exit", () => resolve());
        child.on("error", () => resolve());
      }).finally(() => opening.delete(name));
      opening.set(name, p);
    }
    return p;
  };
  /** Ends the host's shared connection, if it has one (commands running on it end with it). */
  const closeConnection = (name: string): Promise<void> =>
    new Promise((resolve) => execFile("ssh", [...SSH_OPTS, "-O", "exit", ...destination(host(name))], { timeout: 10_000 }, () => resolve()));

  /** One SSH exec request: `command` is the request's command (ssh passes a single argument on unchanged). */
  const sshExec = async (name: string, command: string, input: Buffer[], timeoutMs: number): Promise<RunResult> => {
    const h = host(name);
    await openConnection(name);
    // Without a live shared connection (none, or its host went away), ssh dials one of its own.
    const args = [...SSH_OPTS, "-o", "ControlMaster=no", "-i", h.privateKeyPath, ...destination(h), "--", command];
    return new Promise((resolve, reject) => {
      const child = spawn("ssh", args, { stdio: ["pipe", "pipe", "pipe"] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill("SIGKILL");
        // The shared connection holds copies of ssh's output pipes until the remote command ends.
        child.stdout.destroy();
        child.stderr.destroy();
      }, timeoutMs);
      child.stdout.on("data", (d: Buffer) => out.push(d));
      child.stderr.on("data", (d: Buffer) => err.push(d));
      child.stdin.on("error", () => undefined); // the remote may exit before reading all stdin
      child.on("error", (e) => {
        clearTimeout(timer);
        reject(e);
      });
      child.on("close", (code, signal) => {
        clearTimeout(timer);
        let stderr = Buffer.concat(err).toString("utf8");
        if (timedOut) stderr += `\n[harness] ${name}: command timed out after ${timeoutMs} ms (local ssh killed)\n`;
        if (code === 255) stderr += unreachableReport(h);
        resolve({
          code: timedOut ? 124 : (code ?? (signal ? 128 : 1)),
          stdout: Buffer.concat(out).toString("utf8"),
          stderr,
        });
      });
      for (const chunk of input) child.stdin.write(chunk);
      child.stdin.end();
    });
  };

  const stdinOf = (runOpts: RunOptions): Buffer[] => (runOpts.stdin === undefined ? [] : [Buffer.from(runOpts.stdin)]);

  const exec = (name: string, command: string, runOpts: RunOptions = {}): Promise<RunResult> =>
    sshExec(name, command, stdinOf(runOpts), runOpts.timeoutMs ?? 600_000);

  const run = (name: string, script: string, runOpts: RunOptions = {}): Promise<RunResult> => {
    const scriptBuf = Buffer.from(script, "utf8");
    // The script travels on stdin ahead of the caller's stdin: the remote side
    // takes exactly its length with head -c (which never reads past it), so
    // scripts of any size work and the rest of stdin is the script's own.
    const remote = `f=$(mktemp /tmp/kop-script.XXXXXX) && head -c ${scriptBuf.length} >"$f" && bash "$f"; rc=$?; rm -f "$f"; exit $rc`;
    return sshExec(name, remote, [scriptBuf, ...stdinOf(runOpts)], runOpts.timeoutMs ?? 600_000);
  };

  const writeFile = async (name: string, remotePath: string, content: string | Buffer, mode = 0o644): Promise<void> => {
    const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
    const r = await run(
      name,
      [
        "set -e",
        `dest=${q(remotePath)}`,
        'mkdir -p "$(dirname "$dest")"',
        'tmp="$dest.kop-tmp.$$"',
        'cat >"$tmp"',
        `chmod ${mode.toString(8)} "$tmp"`,
        'mv -f "$tmp" "$dest"',
      ].join("\n"),
      { stdin: content },
    );
    if (r.code !== 0) throw new Error(`writing ${remotePath} on ${name} failed (exit ${r.code}): ${r.stderr}`);
  };

  const copy = async (name: string, localPath: string, remotePath: string, mode?: number): Promise<void> => {
    const content = fs.readFileSync(localPath);
    await writeFile(name, remotePath, content, mode ?? fs.statSync(localPath).mode & 0o7777);
  };

  let tornDown = false;
  return {
    hosts,
    runDir: up.run,
    gateway: up.gateway,
    bridge: up.bridge,
    bootMs,
    host,
    run,
    exec,
    copy,
    writeFile,
    async stopHost(name) {
      cutOff.add(name);
      await closeConnection(name);
      await hostsSh(["stop", name], env);
    },
    async startHost(name) {
      await closeConnection(name);
      await hostsSh(["start", name], env);
      cutOff.delete(name);
      const status = JSON.parse((await hostsSh(["status"], env)).stdout) as UpJson;
      const ms = status.hosts.find((h) => h.name === name)?.bootMs;
      if (ms != null) bootMs[name] = ms;
    },
    async setLink(name, state) {
      host(name);
      if (state !== "up" && state !== "down") throw new Error(`setLink: state must be 'up' or 'down', not ${String(state)}`);
      cutOff.add(name);
      await closeConnection(name);
      await hostsSh(["link", name, state], env);
      if (state === "up") cutOff.delete(name);
    },
    async teardown() {
      if (tornDown) return;
      tornDown = true;
      for (const h of hosts) cutOff.add(h.name);
      await Promise.all(hosts.map((h) => closeConnection(h.name)));
      await hostsSh(["down"], env);
      live.delete(runDir);
    },
  };
}
