import { defineConfig } from "vitest/config";

// Four tiers: unit (mocks + renderers checked by real tools), hosts (real test hosts), cluster (a real
// Kubernetes cluster on test hosts), engine (real pulumi).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts", "test/render/**/*.test.ts"],
          // Builds (or finds cached) the Go tools the render tier runs, outside any test body.
          globalSetup: ["test/support/go-tools-setup.ts"],
          testTimeout: 60_000,
          pool: "forks",
        },
      },
      {
        test: {
          name: "hosts",
          include: ["test/hosts/**/*.test.ts"],
          // containerd and runc built from their modules (the release-file tests).
          globalSetup: ["test/support/go-tools-setup.ts"],
          testTimeout: 900_000,
          hookTimeout: 900_000,
          fileParallelism: false,
          pool: "forks",
        },
      },
      {
        test: {
          name: "cluster",
          include: ["test/cluster/**/*.test.ts"],
          globalSetup: ["test/support/go-tools-setup.ts", "test/cluster/global-setup.ts"],
          testTimeout: 900_000,
          hookTimeout: 900_000,
          fileParallelism: false,
          pool: "forks",
        },
      },
      {
        test: {
          name: "engine",
          include: ["test/engine/**/*.test.ts"],
          // The whole program makes a real cluster: the cluster tier's artifacts (cached; built here when missing).
          globalSetup: ["test/support/go-tools-setup.ts", "test/cluster/global-setup.ts"],
          testTimeout: 1_800_000,
          hookTimeout: 1_800_000,
          fileParallelism: false,
          pool: "forks",
        },
      },
    ],
  },
});
