import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { kubeadmFunctions } from "../../components/kubeadm/steps";

/**
 * The teardown's iptables cleanup under the steps' `set -euo pipefail`, with iptables-save and
 * iptables-restore stand-ins: a cluster's rules outgrow a pipe buffer, and a `grep -q` on
 * iptables-save then failed the pipeline (SIGPIPE) and skipped the cleanup; pulumi destroy left
 * kube-proxy's and flannel's rules behind (seen through the engine tier's host fingerprint).
 */
describe("kop_remove_kube_chains", () => {
  const rules = (services: number) =>
    [
      "*filter",
      ":INPUT ACCEPT [0:0]",
      ":KUBE-SERVICES - [0:0]",
      "-A INPUT -s 10.0.0.0/8 -j ACCEPT",
      ...Array.from({ length: services }, (_, i) => `-A KUBE-SERVICES -d 10.96.${i >> 8}.${i & 255}/32 -p tcp -m comment --comment "default/svc-${i} cluster IP" -j KUBE-SVC-${i}`),
      '-A FORWARD -m comment --comment "flanneld forward" -j FLANNEL-FWD',
      "COMMIT",
    ].join("\n") + "\n";

  it.each([10, 20_000])("with %i service rules, restores the host's rules without any Kubernetes or flannel one", (services) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kop-chains-"));
    fs.writeFileSync(path.join(dir, "rules"), rules(services));
    for (const family of ["iptables", "ip6tables"]) {
      fs.writeFileSync(path.join(dir, `${family}-save`), `#!/bin/sh\ncat '${dir}/rules'\n`, { mode: 0o755 });
      fs.writeFileSync(path.join(dir, `${family}-restore`), `#!/bin/sh\ncat >'${dir}/${family}.restored'\n`, { mode: 0o755 });
    }
    const script = ["set -euo pipefail", "kop_log() { echo \"kop: $*\" >&2; }", kubeadmFunctions("teardown"), "kop_remove_kube_chains"].join("\n");
    const result = spawnSync("bash", ["-c", script], { encoding: "utf8", env: { ...process.env, PATH: `${dir}:${process.env.PATH}` } });
    expect(result.status, result.stderr).toBe(0);
    for (const family of ["iptables", "ip6tables"]) {
      const restored = fs.readFileSync(path.join(dir, `${family}.restored`), "utf8");
      expect(restored).toBe(["*filter", ":INPUT ACCEPT [0:0]", "-A INPUT -s 10.0.0.0/8 -j ACCEPT", "COMMIT", ""].join("\n"));
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
