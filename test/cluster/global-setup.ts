import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import type { TestProject } from "vitest/node";

/** The release the cluster tier builds and runs (.ci/run reads the same file; KOP_CLUSTER_K8S_VERSION overrides it). */
export const CLUSTER_K8S_VERSION = fs.readFileSync(path.join(__dirname, "kubernetes-version"), "utf8").trim();

declare module "vitest" {
  export interface ProvidedContext {
    kubernetesVersion: string;
    /** scripts/build-k8s-artifacts.sh's output directory for that release. */
    k8sArtifacts: string;
  }
}

/**
 * Builds (or finds cached) the release's binaries and images before any test starts: a cold build
 * takes many minutes on two cores, which belongs here, with its own timeout, not in a test body.
 */
export default function setup(project: TestProject): void {
  const version = process.env.KOP_CLUSTER_K8S_VERSION ?? CLUSTER_K8S_VERSION;
  const script = path.join(__dirname, "..", "..", "scripts", "build-k8s-artifacts.sh");
  let out: string;
  try {
    out = execFileSync("bash", [script, version], { stdio: ["ignore", "pipe", "inherit"], timeout: 90 * 60_000, encoding: "utf8" });
  } catch (e) {
    throw new Error(`cluster tier: building the Kubernetes ${version} artifacts failed (bash ${script} ${version}): ${(e as Error).message}`);
  }
  const lines = out.trim().split("\n");
  project.provide("kubernetesVersion", version);
  project.provide("k8sArtifacts", lines[lines.length - 1]);
}
