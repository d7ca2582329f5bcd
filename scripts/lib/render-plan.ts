import * as fs from "node:fs";
import * as path from "node:path";
import type { ClusterModel } from "../../components/config";
import { planEngine } from "../../components/plan";
import type { StepSpec } from "../../components/remote/step";

export interface ManifestEntry {
  host: string;
  step: string;
  layer: string;
  kind: "script" | "delete-script" | "file";
  /** Path inside the output directory. */
  output: string;
  /** For files: where the file lands on the host. */
  hostPath?: string;
  mode?: string;
  secret?: boolean;
  needs?: string[];
}

/**
 * Writes every script and file the stack would place on each host into
 * <outDir>/<host>/..., plus manifest.json. Secret file contents are not known
 * without the engine: a note stands in their place.
 */
export function renderPlan(model: ClusterModel, outDir: string): ManifestEntry[] {
  const plan = planEngine(model);
  const manifest: ManifestEntry[] = [];
  const stepCount = new Map<string, number>();
  const write = (relative: string, content: string, mode = 0o644) => {
    const target = path.join(outDir, relative);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, content, { mode });
  };
  for (const step of plan.steps) {
    const n = (stepCount.get(step.host) ?? 0) + 1;
    stepCount.set(step.host, n);
    const base = `${step.host}/steps/${String(n).padStart(2, "0")}-${stepName(step)}`;
    write(`${base}.sh`, step.script, 0o755);
    manifest.push({ host: step.host, step: step.id, layer: step.layer, kind: "script", output: `${base}.sh`, needs: step.needs });
    if (step.deleteScript) {
      write(`${base}.delete.sh`, step.deleteScript, 0o755);
      manifest.push({ host: step.host, step: step.id, layer: step.layer, kind: "delete-script", output: `${base}.delete.sh` });
    }
    for (const file of step.files) {
      const output = `${step.host}/files${file.path}`;
      const content = file.secret ? `# secret "${file.secret.name}": delivered on stdin at apply time, never written here\n` : file.content;
      write(output, content);
      manifest.push({ host: step.host, step: step.id, layer: step.layer, kind: "file", output, hostPath: file.path, mode: file.mode, secret: Boolean(file.secret) });
    }
  }
  fs.writeFileSync(path.join(outDir, "manifest.json"), JSON.stringify({ cluster: model.name, entries: manifest }, null, 2) + "\n");
  return manifest;
}

/** "os-prep" for "cp1/os-prep" on cp1; "w1-admit" for a step a worker owns that runs on cp1. */
function stepName(step: StepSpec): string {
  const own = step.id.startsWith(`${step.host}/`) ? step.id.slice(step.host.length + 1) : step.id;
  return own.replace(/[^A-Za-z0-9._-]/g, "-");
}
