import { allGoToolBuilds, buildGoTool } from "../../scripts/lib/go-tools";

/**
 * The unit project's globalSetup: the Go tools the render tier runs (kubeadm-validate per Kubernetes
 * release, containerd 2) are built here, before any test, or found in their cache
 * (/var/cache/kubeadm-on-pulumi/go-tools, keyed by release, Go version and sources). .ci/run builds
 * them before vitest starts, so this is only a check there. A failed build stops the run with
 * the build's own error.
 */
export default function setup(): void {
  for (const b of allGoToolBuilds()) {
    const r = buildGoTool(b);
    if (!r.cached) console.log(`built ${b.tool} ${b.release} in ${r.seconds.toFixed(0)} s (${r.binary})`);
  }
}
