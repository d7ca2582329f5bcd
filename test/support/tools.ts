import { execFileSync, spawnSync } from "node:child_process";

/**
 * Resolves a real tool the render tier needs. Missing tools fail the test loudly:
 * `.ci/run` installs them, and a silently skipped check would prove nothing.
 */
export function requireTool(name: string, debianPackage: string): string {
  const found = spawnSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" });
  if (found.status !== 0) {
    throw new Error(`${name} is not installed: run \`apt-get install -y ${debianPackage}\` (.ci/run does this)`);
  }
  return found.stdout.trim();
}

export function run(command: string, args: string[], input?: string): { code: number; stdout: string; stderr: string } {
  const result = spawnSync(command, args, { encoding: "utf8", input, maxBuffer: 64 * 1024 * 1024 });
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

export { execFileSync };
