import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import type { TestProject } from "vitest/node";

/**
 * The releases the cluster tier builds and runs, newest first: the newest release the program
 * supports, then the previous minor the upgrade scenario starts from. .ci/run reads the same file;
 * KOP_CLUSTER_K8S_VERSIONS (space-separated) overrides it.
 */
export const CLUSTER_K8S_VERSIONS = fs.readFileSync(path.join(__dirname, "kubernetes-versions"), "utf8").trim().split(/\s+/);

/** scripts/build-k8s-artifacts.sh's cache (its KOP_K8S_ARTIFACTS_CACHE). */
const ARTIFACTS_CACHE = process.env.KOP_K8S_ARTIFACTS_CACHE ?? "/var/cache/kubeadm-on-pulumi/k8s";

declare module "vitest" {
  export interface ProvidedContext {
    /** Newest first. */
    kubernetesVersions: string[];
    /** scripts/build-k8s-artifacts.sh's output directory, by release. */
    k8sArtifacts: Record<string, string>;
  }
}

/**
 * Builds (or finds cached) each release's binaries and images before any test starts: a cold build
 * takes many minutes on two cores, which belongs here, with its own timeout, not in a test body.
 */
export default function setup(project: TestProject): void {
  const versions = process.env.KOP_CLUSTER_K8S_VERSIONS?.split(/\s+/).filter(Boolean) ?? CLUSTER_K8S_VERSIONS;
  const script = path.join(__dirname, "..", "..", "scripts", "build-k8s-artifacts.sh");
  const artifacts: Record<string, string> = {};
  for (const version of versions) {
    let out: string;
    try {
      // One build per release at a time: the cluster and engine tiers may start side by side (.ci/run),
      // and the second waits for the first's build instead of building the same directory beside it.
      fs.mkdirSync(ARTIFACTS_CACHE, { recursive: true });
      const lock = path.join(ARTIFACTS_CACHE, `.build-${version}.lock`);
      out = execFileSync("flock", [lock, "bash", script, version], { stdio: ["ignore", "pipe", "inherit"], timeout: 90 * 60_000, encoding: "utf8" });
    } catch (e) {
      throw new Error(`cluster tier: building the Kubernetes ${version} artifacts failed (bash ${script} ${version}): ${(e as Error).message}`);
    }
    const lines = out.trim().split("\n");
    artifacts[version] = lines[lines.length - 1];
  }
  project.provide("kubernetesVersions", versions);
  project.provide("k8sArtifacts", artifacts);
}
