import { allGoToolBuilds, buildGoTool } from "../../scripts/lib/go-tools";

/**
 * The unit project's globalSetup: the Go tools the render tier runs (kubeadm-validate per Kubernetes
 * release, containerd 2) are built here, before any test, or found in their cache
 * (/var/cache/kubeadm-on-pulumi/go-tools, keyed by release, Go version and sources). .ci/run's
 * first tier is `npm test`, so CI builds them here too; the hosts, cluster and engine tiers only find
 * them. A failed build stops the run with the build's own error.
 */
export default function setup(): void {
  for (const b of allGoToolBuilds()) {
    const r = buildGoTool(b);
    if (!r.cached) console.log(`built ${b.name ?? b.tool} ${b.release} in ${r.seconds.toFixed(0)} s (${r.binary})`);
  }
}
