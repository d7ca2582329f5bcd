import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { loadStackFile } from "../../components/config";
import { planCluster } from "../../components/plan";
import { NODE_PREP_PARTS, renderNodePrep } from "../../components/remote/bundle";
import type { StepSpec } from "../../components/remote/step";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { renderPlan } from "../../scripts/lib/render-plan";
import { requireTool, run } from "../support/tools";

const STACKS = fs
  .readdirSync(path.join(__dirname, "..", "..", "stacks"))
  .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
  .filter((s): s is string => s !== undefined);

const execFileAsync = promisify(execFile);

describe("every rendered script, and every part of a node-prep, passes shellcheck", () => {
  const shellcheck = requireTool("shellcheck", "shellcheck");
  it("finds the example stacks", () => expect(STACKS).toEqual(expect.arrayContaining(["dev", "prod", "china", "rocky9"])));

  for (const stack of STACKS) {
    it(`stack ${stack}`, async () => {
      const out = fs.mkdtempSync(path.join(os.tmpdir(), `kop-render-${stack}-`));
      const manifest = renderPlan(loadStackFile(stack), out);
      const scripts = manifest.filter((e) => e.kind !== "file").map((e) => path.join(out, e.output));
      expect(scripts.length).toBeGreaterThan(0);
      // node-prep carries its parts, and writes its undo script, as here-documents, which shellcheck
      // does not look into: check each part and each host's undo script too.
      const isPart = (id: string) => (NODE_PREP_PARTS as readonly string[]).includes(id.slice(id.indexOf("/") + 1));
      const partSteps = planCluster(loadStackFile(stack)).steps.filter((step) => isPart(step.id));
      const parts = partSteps.flatMap((step) => [
        [step.id, step.script],
        ...(step.deleteScript ? [[`${step.id}.delete`, step.deleteScript]] : []),
      ]);
      const byHost = new Map<string, StepSpec[]>();
      for (const step of partSteps) byHost.set(step.host, [...(byHost.get(step.host) ?? []), step]);
      for (const [host, steps] of byHost) parts.push([`${host}/node-prep.undo`, renderNodePrep(host, steps).undoScript]);
      for (const [id, text] of parts) {
        const file = path.join(out, "parts", `${id.replace(/\//g, "__")}.sh`);
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, text);
        scripts.push(file);
      }
      // Batches of 50, two at a time, without blocking the test worker; the output names each failing file and line.
      const batches: string[][] = [];
      for (let i = 0; i < scripts.length; i += 50) batches.push(scripts.slice(i, i + 50));
      const check = async (batch: string[]) => {
        const result = await execFileAsync(shellcheck, ["-s", "bash", "-f", "gcc", ...batch], { maxBuffer: 64 * 1024 * 1024 }).then(
          (r) => ({ code: 0, output: r.stdout + r.stderr }),
          (e: { code?: number; stdout?: string; stderr?: string }) => ({ code: e.code ?? 1, output: `${e.stdout ?? ""}${e.stderr ?? ""}` }),
        );
        expect(result.output, "shellcheck findings").toBe("");
        expect(result.code).toBe(0);
      };
      for (let i = 0; i < batches.length; i += 2) await Promise.all(batches.slice(i, i + 2).map(check));
      fs.rmSync(out, { recursive: true, force: true });
    }, 600_000); // shellcheck over a few hundred files: about a minute alone, several times that on a busy machine
  }
});

describe("render tool", () => {
  it("refuses to wipe a non-empty directory that holds no earlier render", () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), "kop-render-keep-"));
    fs.writeFileSync(path.join(out, "keep.txt"), "user data\n");
    const result = run("npx", ["tsx", path.join(__dirname, "..", "..", "scripts", "render.ts"), "dev", out]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("is not empty and holds no earlier render");
    expect(fs.readFileSync(path.join(out, "keep.txt"), "utf8")).toBe("user data\n");
    fs.rmSync(out, { recursive: true, force: true });
  });


  it("writes scripts, delete scripts, files and a manifest per host", () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), "kop-render-"));
    renderPlan(loadStackFile("china"), out);
    const manifest = JSON.parse(fs.readFileSync(path.join(out, "manifest.json"), "utf8"));
    expect(manifest.cluster).toBe("guide");
    const hosts = new Set(manifest.entries.map((e: { host: string }) => e.host));
    expect([...hosts].sort()).toEqual(["k8s-master1", "k8s-master2", "k8s-master3", "k8s-node1", "k8s-node2"]);
    const config = fs.readFileSync(path.join(out, "k8s-node1/files/etc/containerd/config.toml"), "utf8");
    expect(config).toContain('sandbox_image = "registry.aliyuncs.com/google_containers/pause:3.10.1"');
    for (const entry of manifest.entries) expect(fs.existsSync(path.join(out, entry.output)), entry.output).toBe(true);
    fs.rmSync(out, { recursive: true, force: true });
  });
});
