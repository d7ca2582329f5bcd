import { sha256, shQuote } from "./shell";
import type { StepSpec } from "./step";

/**
 * Exactly what the command provider receives for one step, as plain strings: the `create` and
 * `delete` commands it sends as the command of an SSH exec request, and the scripts its stdin
 * carries ahead of the step's secret lines. remote-step.ts declares these strings and the test
 * tiers run these same strings: nothing else builds a step's command.
 *
 * The scripts travel on stdin and each command is a short runner, because the provider's error
 * for a failed command starts with the whole command, quoted: with the script inside it, a user
 * read 8–9 KB of escaped script before the script's own error. The runner names the step first.
 */
export interface StepInvocation {
  create: string;
  delete?: string;
  /** The create script, then the delete script: the start of the step's stdin. */
  scripts: string;
}

/** The runner of one script on stdin: reads both scripts, checks the one it runs, runs it on the rest of stdin (the secrets). */
function runner(stepId: string, which: "create" | "delete", createBytes: number, deleteBytes: number, digest: string, sudo: boolean): string {
  const text = [
    `# kubeadm-on-pulumi step ${stepId} (${which}): its scripts arrive on stdin, its secrets after them`,
    'd=$(mktemp -d /tmp/kop-step.XXXXXX) || exit 1',
    `head -c ${createBytes} >"$d/create"; head -c ${deleteBytes} >"$d/delete"`,
    `if ! echo "${digest}  $d/${which}" | sha256sum -c --status; then echo ${shQuote(`kop: ERROR: ${stepId}: the ${which} script arrived incomplete on stdin`)} >&2; rm -rf "$d"; exit 1; fi`,
    `bash "$d/${which}"; rc=$?; rm -rf "$d"; exit $rc`,
  ].join("\n");
  return `${sudo ? "sudo -n " : ""}bash -c ${shQuote(text)}`;
}

export function stepInvocation(step: Pick<StepSpec, "id" | "script" | "deleteScript">, sudo: boolean): StepInvocation {
  const createBytes = Buffer.byteLength(step.script, "utf8");
  const deleteScript = step.deleteScript ?? "";
  const deleteBytes = Buffer.byteLength(deleteScript, "utf8");
  return {
    create: runner(step.id, "create", createBytes, deleteBytes, sha256(step.script), sudo),
    delete: step.deleteScript === undefined ? undefined : runner(step.id, "delete", createBytes, deleteBytes, sha256(deleteScript), sudo),
    scripts: step.script + deleteScript,
  };
}

/**
 * A create command that names the revisions of the step's drift-checked files (components/drift):
 * a changed revision changes the command, so the engine re-runs the step in place.
 */
export function withRevisions(create: string, revisions: readonly unknown[]): string {
  return `: kop-applied-revisions ${revisions.map(String).join(" ")}\n${create}`;
}

/** The sudo rule: a login user other than root runs every step through `sudo -n`. */
export function runsWithSudo(loginUser: string): boolean {
  return loginUser !== "root";
}
