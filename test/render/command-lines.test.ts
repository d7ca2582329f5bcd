import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { loadStackFile, type ClusterModel } from "../../components/config";
import { planEngine } from "../../components/plan";
import { runsWithSudo, stepInvocation, withRevisions } from "../../components/remote/invocation";
import { modelWithWorkers, stackSection } from "../../scripts/bench/topology";

const execFileAsync = promisify(execFile);

const STACKS = fs
  .readdirSync(path.join(__dirname, "..", "..", "stacks"))
  .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
  .filter((s): s is string => s !== undefined);

/** Every stack file, and the benchmark's topology (prod with more workers). */
const MODELS: Array<[string, () => ClusterModel]> = [
  ...STACKS.map((stack): [string, () => ClusterModel] => [stack, () => loadStackFile(stack)]),
  ["bench prod, 12 workers", () => modelWithWorkers(stackSection(), 12)],
];

/**
 * Parses each text with `bash -n` in one bash process; returns "<file>: <bash's words>" for each
 * text bash refuses or warns about (an unterminated here-document is only a warning to bash -n,
 * and was the defect that stopped every step but node-prep).
 */
async function bashParses(dir: string, texts: Map<string, string>): Promise<string[]> {
  const files: string[] = [];
  for (const [name, text] of texts) {
    const file = path.join(dir, name.replace(/[^A-Za-z0-9._-]/g, "_"));
    fs.writeFileSync(file, text);
    files.push(file);
  }
  const loop = `for f in "$@"; do out=$(bash -n "$f" 2>&1) && [ -z "$out" ] || printf "%s: %s\\n" "\${f##*/}" "\${out//$'\\n'/ | }"; done`;
  const { stdout } = await execFileAsync("bash", ["-c", loop, "bash", ...files], { maxBuffer: 64 * 1024 * 1024 });
  return stdout.split("\n").filter((l) => l !== "");
}

describe("the command strings the engine sends, for every step of every stack, parse in bash", () => {
  it("finds the example stacks", () => expect(STACKS).toEqual(expect.arrayContaining(["dev", "prod", "china"])));

  for (const [name, model] of MODELS) {
    it(name, async () => {
      const m = model();
      const sudoOf = new Map(m.hosts.map((h) => [h.name, runsWithSudo(h.ssh.user)]));
      const texts = new Map<string, string>();
      for (const step of planEngine(m).steps) {
        // Both sudo rules: a stack's own login users, and the other one.
        for (const sudo of [sudoOf.get(step.host)!, !sudoOf.get(step.host)!]) {
          const inv = stepInvocation(step, sudo);
          texts.set(`${step.id}.create.sudo-${sudo}`, inv.create);
          texts.set(`${step.id}.create-with-revisions.sudo-${sudo}`, withRevisions(inv.create, [1, 2]));
          if (inv.delete) texts.set(`${step.id}.delete.sudo-${sudo}`, inv.delete);
        }
        texts.set(`${step.id}.script`, step.script);
        if (step.deleteScript !== undefined) texts.set(`${step.id}.delete-script`, step.deleteScript);
      }
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kop-command-lines-"));
      try {
        expect(await bashParses(dir, texts)).toEqual([]);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  it("catches an unterminated here-document (the check can fail)", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kop-command-lines-"));
    const broken = `bash -c "$(cat <<'KOP_EOF_1'\necho hi KOP_EOF_1\n)"`;
    const found = await bashParses(dir, new Map([["broken", broken], ["fine", "echo fine\n"]]));
    fs.rmSync(dir, { recursive: true, force: true });
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/^broken: .*(here-document|unexpected EOF)/);
  });
});
