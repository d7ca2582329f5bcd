import * as fs from "node:fs";
import * as path from "node:path";
import { parse as parseYaml } from "yaml";

const PROJECT_FILE = path.resolve(__dirname, "..", "..", "Pulumi.yaml");

/**
 * The Node arguments `pulumi up` runs the program with (Pulumi.yaml's runtime.options.nodeargs,
 * which the Node.js language host passes to node): the benchmark's program evaluations and SDK
 * floor run under the same ones.
 */
export function projectNodeArgs(projectFile = PROJECT_FILE): string[] {
  const project = parseYaml(fs.readFileSync(projectFile, "utf8")) as { runtime?: string | { options?: { nodeargs?: unknown } } };
  const nodeargs = typeof project.runtime === "object" ? project.runtime.options?.nodeargs : undefined;
  if (nodeargs === undefined) return [];
  if (typeof nodeargs !== "string") throw new Error(`${projectFile}: runtime.options.nodeargs must be a string of node arguments`);
  return nodeargs.split(/\s+/).filter(Boolean);
}
