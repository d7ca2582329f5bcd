import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { expect } from "vitest";
import { stepInvocation } from "../../components/remote/invocation";
import { secretLines } from "../../components/remote/shell";
import type { StepSpec } from "../../components/remote/step";
import { stepKind, type StepTiming } from "../../scripts/bench/durations";

type RunResult = Promise<{ code: number; stdout: string; stderr: string }>;

/** What the hosts tier needs from the harness: run a script on a host, or send one exact SSH exec request. */
export interface ScriptRunner {
  run(host: string, script: string, opts?: { stdin?: string; timeoutMs?: number }): RunResult;
  exec(host: string, command: string, opts?: { stdin?: string; timeoutMs?: number }): RunResult;
}

/** stdin exactly as components/remote/remote-step.ts sends it: one "NAME=base64" line per secret. */
export function stdinLines(names: readonly string[], secrets: Readonly<Record<string, string>>): string {
  const values = names.map((name) => {
    const value = secrets[name];
    if (value === undefined) throw new Error(`test secret ${name} is not defined`);
    return value;
  });
  return secretLines(names, values);
}

/**
 * Step timings for the benchmark (scripts/bench/measure-steps.ts): when KOP_STEP_TIMINGS names a
 * file, every successful create appends one StepTiming line to it. Nothing happens without it.
 */
const TIMINGS_FILE = process.env.KOP_STEP_TIMINGS;
const REPO = path.resolve(__dirname, "..", "..");
/** Creates started so far in this test file's run, by file and step id: only the first of each is a fresh host's work. */
const createsStarted = new Set<string>();
/**
 * The applyStep calls running now (creates and deletes). Each adds up, over its run, the number
 * of calls running (itself included) times the time they did: its mean parallelism in the end.
 */
const running = new Set<{ started: number; area: number }>();
let lastChange = 0;
const CPUS = os.availableParallelism();
const advance = (now: number) => {
  for (const r of running) r.area += (now - lastChange) * running.size;
  lastChange = now;
};

/** Starts timing one applyStep; the returned function ends it, recording a create that succeeded (ms given). */
function startTiming(step: StepSpec, which: "create" | "delete"): (ms?: number) => void {
  const run = { started: Date.now(), area: 0 };
  advance(run.started);
  running.add(run);
  const end = () => {
    const now = Date.now();
    advance(now);
    running.delete(run);
    return now > run.started ? Math.round((run.area / (now - run.started)) * 10) / 10 : 1;
  };
  if (which !== "create") return () => void end();
  const state = expect.getState();
  const file = state.testPath ? path.relative(REPO, state.testPath) : "(unknown test file)";
  const key = `${file}\0${step.id}`;
  const first = !createsStarted.has(key);
  createsStarted.add(key);
  const test = state.currentTestName ?? "(setup hook)";
  const date = new Date().toISOString();
  return (ms) => {
    const parallel = end();
    if (ms === undefined) return;
    const record: StepTiming = { step: stepKind(step.id), host: step.host, ms, first, parallel, cpus: CPUS, file, test, date };
    fs.appendFileSync(TIMINGS_FILE!, JSON.stringify(record) + "\n");
  };
}

/** How execStep and applyStep run a step: its secrets' values, create or delete, the local timeout, the sudo rule. */
export interface StepRunOptions {
  secrets?: Record<string, string>;
  which?: "create" | "delete";
  timeoutMs?: number;
  sudo?: boolean;
}

/**
 * Runs a step exactly as the command provider does: the step's create (or delete) command string
 * from `stepInvocation`, the same function the program declares it with, sent byte for byte as the
 * command of one SSH exec request, with the step's stdin (its scripts, then its secret lines).
 * `sudo` is the program's rule for the login user (runsWithSudo); the test hosts log in as root.
 * Returns whatever the run gave, a failure included.
 */
export function execStep(
  runner: ScriptRunner,
  step: StepSpec,
  opts: StepRunOptions = {},
): RunResult {
  const which = opts.which ?? "create";
  const invocation = stepInvocation(step, opts.sudo ?? false);
  const command = which === "create" ? invocation.create : invocation.delete;
  if (!command) throw new Error(`step ${step.id} has no ${which} script`);
  const stdin = invocation.scripts + stdinLines(step.secrets, opts.secrets ?? {});
  return runner.exec(step.host, command, { stdin, timeoutMs: opts.timeoutMs ?? 600_000 });
}

/** execStep, timed (KOP_STEP_TIMINGS), throwing with the step's output when it fails. */
export async function applyStep(
  runner: ScriptRunner,
  step: StepSpec,
  opts: StepRunOptions = {},
): Promise<{ stdout: string; stderr: string; ms: number }> {
  const which = opts.which ?? "create";
  const record = TIMINGS_FILE ? startTiming(step, which) : undefined;
  const started = Date.now();
  let result: Awaited<ReturnType<ScriptRunner["run"]>>;
  try {
    result = await execStep(runner, step, opts);
  } catch (e) {
    record?.();
    throw e;
  }
  const ms = Date.now() - started;
  if (result.code !== 0) {
    record?.();
    throw new Error(`${which} of ${step.id} failed with exit ${result.code}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`);
  }
  record?.(ms);
  return { stdout: result.stdout, stderr: result.stderr, ms };
}

/**
 * A fingerprint of host state: checksum, mode and mtime of each path, the installed package set,
 * unit states and listed directories. Equal fingerprints = the host was not touched. Without
 * mtimes it compares content only (a block edited into /etc/hosts and taken out again is gone,
 * but the file was written twice).
 */
export function fingerprintScript(paths: string[], units: string[], dirs: string[], opts: { mtimes?: boolean } = {}): string {
  const stat = opts.mtimes === false ? "%a" : "%a %Y";
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  return [
    "set -u",
    `for p in ${paths.map(q).join(" ")}; do if [ -e "$p" ]; then echo "file $p $(sha256sum <"$p" | cut -c1-16) $(stat -c '${stat}' "$p")"; else echo "file $p absent"; fi; done`,
    `for d in ${dirs.map(q).join(" ")}; do if [ -d "$d" ]; then echo "dir $d: $(ls -A "$d" | tr '\\n' ' ')"; else echo "dir $d absent"; fi; done`,
    `for u in ${units.map(q).join(" ")}; do echo "unit $u $(systemctl is-enabled "$u" 2>/dev/null || true) $(systemctl is-active "$u" 2>/dev/null || true)"; done`,
    "echo \"masked-swap $(systemctl list-unit-files --type=swap --state=masked --no-legend 2>/dev/null | awk '{print $1}' | tr '\\n' ' ')\"",
    "echo \"holds $(apt-mark showhold | tr '\\n' ' ')\"",
    "dpkg-query -W -f='pkg ${Package} ${Version} ${Status}\\n' | sort",
  ].join("\n");
}

/** A shell on one host: runs a snippet, returns its trimmed stdout, throws with the whole output when it fails. */
export function shellOn(runner: ScriptRunner, host: string): (script: string) => Promise<string> {
  return async (script) => {
    const r = await runner.run(host, script);
    if (r.code !== 0) throw new Error(`${script}\nexit ${r.code}\n${r.stdout}\n${r.stderr}`);
    return r.stdout.trim();
  };
}
