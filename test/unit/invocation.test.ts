import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { stepInvocation, withRevisions } from "../../components/remote/invocation";
import { script, secretLines } from "../../components/remote/shell";

/**
 * Runs a command string the way sshd runs an exec request's command: the login user's shell
 * gets the whole string with -c, stdin is the step's stdin. Here the shell is the local bash;
 * the hosts tier sends the same strings over real SSH (test/hosts/steps.ts).
 */
function runAsExec(command: string, stdin: string) {
  const r = spawnSync("bash", ["-c", command], { input: stdin, encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("a step's command strings and stdin (what the command provider sends)", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kop-invocation-"));
  const out = path.join(dir, "out");
  const step = {
    id: "cp1/example",
    // script() leaves no newline at the end: the case that broke the heredoc command line.
    script: script("example", `printf 'create saw %s\\n' "$SECRET_token" >>${out}`, ["token"]),
    deleteScript: script("example undo", `printf 'delete saw %s\\n' "$SECRET_token" >>${out}`, ["token"]),
  };

  it("runs the create script with the secrets after both scripts on stdin", () => {
    expect(step.script.endsWith("\n")).toBe(false);
    const inv = stepInvocation(step, false);
    const r = runAsExec(inv.create, inv.scripts + secretLines(["token"], ["s3cret"]));
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(fs.readFileSync(out, "utf8")).toBe("create saw s3cret\n");
  });

  it("runs the delete script from the same stdin", () => {
    const inv = stepInvocation(step, false);
    const r = runAsExec(inv.delete!, inv.scripts + secretLines(["token"], ["s3cret"]));
    expect(r.code).toBe(0);
    expect(fs.readFileSync(out, "utf8")).toBe("create saw s3cret\ndelete saw s3cret\n");
  });

  it("runs a create command that names file revisions", () => {
    const inv = stepInvocation(step, false);
    const r = runAsExec(withRevisions(inv.create, ["3", "abc"]), inv.scripts + secretLines(["token"], ["again"]));
    expect(r.code).toBe(0);
    expect(fs.readFileSync(out, "utf8").split("\n")).toContain("create saw again");
  });

  it("refuses a script that arrived cut short, naming the step", () => {
    const inv = stepInvocation(step, false);
    const r = runAsExec(inv.create, inv.scripts.slice(0, 100));
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("kop: ERROR: cp1/example: the create script arrived incomplete on stdin\n");
  });

  it("passes a failing script's status and its own error through", () => {
    const failing = { id: "w1/broken", script: script("broken", "kop_fail 'kubeadm join: unknown flag --nope'") };
    const inv = stepInvocation(failing, false);
    expect(inv.delete).toBeUndefined();
    const r = runAsExec(inv.create, inv.scripts);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("kop: ERROR: kubeadm join: unknown flag --nope\n");
  });

  it("keeps the command short and naming the step first, so the provider's error leads with it", () => {
    // The provider's error for a failed command is `<status>: running <command quoted>:\n<output>`.
    const big = { id: "w7/node-prep", script: script("big", "echo x\n".repeat(5000)), deleteScript: script("undo", ":") };
    const inv = stepInvocation(big, true);
    expect(inv.create.length).toBeLessThan(600);
    expect(inv.create.startsWith("sudo -n bash -c '# kubeadm-on-pulumi step w7/node-prep (create)")).toBe(true);
    expect(inv.delete!.startsWith("sudo -n bash -c '# kubeadm-on-pulumi step w7/node-prep (delete)")).toBe(true);
    expect(inv.scripts).toBe(big.script + big.deleteScript);
  });

  it("changes the create command whenever the create script changes, even at the same length", () => {
    const a = stepInvocation({ id: "h/s", script: "echo a" }, false);
    const b = stepInvocation({ id: "h/s", script: "echo b" }, false);
    expect(a.create).not.toBe(b.create);
  });
});
