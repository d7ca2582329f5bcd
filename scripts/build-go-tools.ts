// Builds (or finds cached) every Go tool the render tier uses: kubeadm-validate for each Kubernetes
// release it checks, and containerd 2. .ci/run runs this before the tests; the unit project's
// globalSetup runs it too, so a developer's `npm test` never builds inside a test.
import { allGoToolBuilds, buildGoTool } from "./lib/go-tools";

const start = Date.now();
let failed = false;
for (const b of allGoToolBuilds()) {
  try {
    const r = buildGoTool(b);
    console.log(`${b.name ?? b.tool} ${b.release}: ${r.cached ? "cached" : `built in ${r.seconds.toFixed(0)} s`} (${r.binary})`);
  } catch (e) {
    failed = true;
    console.error(String((e as Error).message));
  }
}
console.log(`go tools ready in ${((Date.now() - start) / 1000).toFixed(0)} s`);
process.exit(failed ? 1 : 0);
