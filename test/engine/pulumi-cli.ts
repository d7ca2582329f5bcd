/**
 * The real Pulumi CLI for the engine tier: the toolchain scripts/install-pulumi.sh builds
 * (built here when missing; a failure to build is a test failure, never a skip), and a
 * throwaway project on a local file backend whose every command is timed.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const ROOT = path.resolve(__dirname, "../..");
const INSTALL_SCRIPT = path.join(ROOT, "scripts/install-pulumi.sh");
/** What the toolchain must hold: the CLI, the nodejs language host, the dynamic-provider shim. */
const BINARIES = ["pulumi", "pulumi-language-nodejs", "pulumi-resource-pulumi-nodejs"];

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

function run(cmd: string, args: string[], opts: { cwd?: string; env: NodeJS.ProcessEnv; stdin?: string; timeoutMs: number; echo?: boolean; onSpawn?: (pid: number) => void }): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: ["pipe", "pipe", "pipe"] });
    if (child.pid !== undefined) opts.onSpawn?.(child.pid);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs);
    child.stdout.on("data", (d: Buffer) => {
      out.push(d);
      if (opts.echo) process.stderr.write(d);
    });
    child.stderr.on("data", (d: Buffer) => {
      err.push(d);
      if (opts.echo) process.stderr.write(d);
    });
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8"), ms: Date.now() - started });
    });
    child.stdin.end(opts.stdin ?? "");
  });
}

export interface Toolchain {
  dir: string;
  bin: string;
  /** Where install-pulumi.sh installed the resource plugins it built. */
  pulumiHome: string;
  /** `pulumi version`. */
  version: string;
  /** Time spent building (0 when it was already there). */
  buildMs: number;
}

/** The plugin version an npm package asks the engine for. */
export function pluginVersion(pkg: string): string {
  const p = JSON.parse(fs.readFileSync(path.join(ROOT, "node_modules", pkg, "package.json"), "utf8")) as { version: string; pulumi?: { version?: string } };
  return (p.pulumi?.version ?? p.version).replace(/^v/, "");
}

/**
 * The toolchain under $KOP_TOOLCHAIN_DIR (default /var/cache/kubeadm-on-pulumi/toolchain, as
 * install-pulumi.sh for root); runs `install-pulumi.sh --only pulumi [--only PLUGIN]...` when
 * something is missing (idempotent, seconds when cached, 10–40 min cold: docs/toolchain.md).
 * Throws when it cannot be built.
 */
export async function ensureToolchain(plugins: string[] = []): Promise<Toolchain> {
  const dir = process.env.KOP_TOOLCHAIN_DIR ?? (process.getuid?.() === 0 ? "/var/cache/kubeadm-on-pulumi/toolchain" : path.join(os.homedir(), ".cache/kubeadm-on-pulumi/toolchain"));
  const bin = path.join(dir, "bin");
  const pulumiHome = process.env.PULUMI_HOME ?? path.join(dir, "pulumi-home");
  const missing = () => [
    ...BINARIES.filter((b) => !fs.existsSync(path.join(bin, b))),
    ...plugins.filter((p) => !fs.existsSync(path.join(pulumiHome, "plugins", `resource-${p}-v${pluginVersion(`@pulumi/${p}`)}`, `pulumi-resource-${p}`))),
  ];
  let buildMs = 0;
  if (missing().length > 0) {
    const env = { ...process.env, KOP_TOOLCHAIN_DIR: dir, PULUMI_HOME: pulumiHome };
    const args = [INSTALL_SCRIPT, "--only", "pulumi", ...plugins.flatMap((p) => ["--only", p])];
    console.log(`engine tier: ${missing().join(", ")} missing in ${dir}: running ${args.join(" ")}`);
    const built = await run("bash", args, { cwd: ROOT, env, timeoutMs: 60 * 60_000, echo: true });
    buildMs = built.ms;
    if (built.code !== 0 || missing().length > 0) {
      throw new Error(
        `ENGINE TIER CANNOT RUN — this is a failure, not a skip: ${args.join(" ")} exited ${built.code}` +
          (missing().length ? `, still missing in ${bin}: ${missing().join(", ")}` : "") +
          `\n${(built.stdout + built.stderr).split("\n").slice(-30).join("\n")}`,
      );
    }
  }
  const version = await run(path.join(bin, "pulumi"), ["version"], { env: { ...process.env, PULUMI_SKIP_UPDATE_CHECK: "true" }, timeoutMs: 60_000 });
  if (version.code !== 0) throw new Error(`ENGINE TIER CANNOT RUN: ${bin}/pulumi version exited ${version.code}: ${version.stderr}`);
  return { dir, bin, pulumiHome, version: version.stdout.trim(), buildMs };
}

export interface Timed {
  command: string;
  ms: number;
  code: number;
}

/**
 * A Pulumi project in a fresh temporary directory whose program lives elsewhere (`main`),
 * with its own PULUMI_HOME (the login stays out of ~/.pulumi), a local file backend and a
 * random passphrase for the secrets provider.
 */
export class PulumiProject {
  readonly dir: string;
  readonly passphrase = randomBytes(16).toString("hex");
  readonly timings: Timed[] = [];
  /** `pulumi login` this. */
  readonly backend: string;
  private readonly env: NodeJS.ProcessEnv;

  readonly pulumiHome: string;

  /** `env`: variables for every pulumi command, set after the caller's PULUMI_* ones are dropped. */
  constructor(toolchain: Toolchain, opts: { name: string; program: string; nodeargs?: string; env?: Record<string, string> }) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "kop-engine-"));
    const state = path.join(this.dir, "state");
    fs.mkdirSync(state);
    fs.writeFileSync(
      path.join(this.dir, "Pulumi.yaml"),
      [
        `name: ${opts.name}`,
        "runtime:",
        "  name: nodejs",
        "  options:",
        "    typescript: true",
        ...(opts.nodeargs ? [`    nodeargs: ${opts.nodeargs}`] : []),
        `main: ${path.relative(this.dir, opts.program)}`,
        "",
      ].join("\n"),
    );
    this.pulumiHome = path.join(this.dir, "pulumi-home");
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const k of Object.keys(env)) if (k.startsWith("PULUMI_")) delete env[k];
    this.env = {
      ...env,
      PATH: `${toolchain.bin}:${process.env.PATH ?? "/usr/bin:/bin"}`,
      PULUMI_HOME: this.pulumiHome,
      PULUMI_SKIP_UPDATE_CHECK: "true",
      PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
      PULUMI_CONFIG_PASSPHRASE: this.passphrase,
      ...opts.env,
    };
    this.backend = `file://${state}`;
  }

  /**
   * Runs `pulumi ARGS` in the project; records the wall time. Never throws for a non-zero exit.
   * `onSpawn` gets the CLI's pid (the engine benchmark samples its process tree).
   */
  async run(args: string[], opts: { stdin?: string; timeoutMs?: number; onSpawn?: (pid: number) => void } = {}): Promise<RunResult> {
    const result = await run("pulumi", [...args, "--non-interactive"], { cwd: this.dir, env: this.env, stdin: opts.stdin, timeoutMs: opts.timeoutMs ?? 600_000, onSpawn: opts.onSpawn });
    const command = `pulumi ${args.filter((a) => !a.startsWith("--non-interactive")).join(" ")}`;
    this.timings.push({ command, ms: result.ms, code: result.code });
    console.log(`$ ${command}  # exit ${result.code}, ${(result.ms / 1000).toFixed(1)} s`);
    return result;
  }

  /** Like run, but throws with the output unless the exit code is the expected one. */
  async expect(args: string[], code = 0, opts: { stdin?: string; timeoutMs?: number } = {}): Promise<RunResult> {
    const result = await this.run(args, opts);
    if (result.code !== code) {
      throw new Error(`pulumi ${args.join(" ")} exited ${result.code} (expected ${code})\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`);
    }
    return result;
  }

  remove(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The operations of a `pulumi preview --json` other than "same", as "op name" (name: the URN's last part). */
export function changedSteps(previewJson: string): string[] {
  const preview = JSON.parse(previewJson) as { steps?: Array<{ op: string; urn: string }> };
  return (preview.steps ?? []).filter((s) => s.op !== "same").map((s) => `${s.op} ${s.urn.split("::").pop()}`);
}
