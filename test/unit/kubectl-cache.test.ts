import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { kubeadmFunctions } from "../../components/kubeadm/steps";

/**
 * The steps' kubectl keeps its discovery cache out of the login user's home: kubectl's default,
 * ~/.kube/cache, was left on the first control plane after `pulumi destroy` (seen through the
 * engine tier's host fingerprint).
 */
describe("kop_kubectl", () => {
  it.each([
    ["the admin credentials", ""],
    ["a kubeconfig from a secret", "SECRET_kc='apiVersion: v1'; KOP_KUBECONFIG_SECRET=SECRET_kc"],
  ])("with %s, passes a cache directory under /tmp", (_label, setup) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kop-kubectl-"));
    // A kubectl that records its arguments, one per line.
    fs.writeFileSync(path.join(dir, "kubectl"), `#!/bin/sh\nprintf '%s\\n' "$@" >'${dir}/args'\n`, { mode: 0o755 });
    const script = ["set -euo pipefail", kubeadmFunctions("core"), setup, "kop_kubectl get nodes"].join("\n");
    const result = spawnSync("bash", ["-c", script], { encoding: "utf8", env: { ...process.env, PATH: `${dir}:${process.env.PATH}`, HOME: dir } });
    expect(result.status, result.stderr).toBe(0);
    const args = fs.readFileSync(path.join(dir, "args"), "utf8").trim().split("\n");
    const cache = args[args.indexOf("--cache-dir") + 1];
    expect(args).toContain("--cache-dir");
    expect(cache.startsWith("/tmp/")).toBe(true);
    expect(args.slice(-2)).toEqual(["get", "nodes"]);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
