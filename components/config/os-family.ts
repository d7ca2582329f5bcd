import type { ProblemList } from "./errors";
import type { StackConfig } from "./schema";

/** Rules tied to cluster:os.family: what only one family has, and what the RHEL family does not ship. */
export function checkOsFamilyRules(cfg: StackConfig, problems: ProblemList): void {
  const { family } = cfg.os;
  if (family !== "rhel") {
    for (const key of ["selinux", "firewalld"] as const) {
      if (cfg.os[key] !== undefined) {
        problems.add(["os", key], `applies to cluster:os.family "rhel" only; "${family}" hosts are not changed by it: remove the key or set cluster:os.family to "rhel"`);
      }
    }
    return;
  }
  if (cfg.runtime.kind === "containerd" && cfg.runtime.containerd.source === "distro") {
    problems.add(
      ["runtime", "containerd", "source"],
      '"distro" is not available on RHEL, Rocky or AlmaLinux (they ship no containerd package): set "docker-ce" (containerd.io from cluster:mirrors.dockerPackages)',
    );
  }
  if (cfg.etcd.topology === "external" && cfg.etcd.source === "distro") {
    problems.add(["etcd", "source"], '"distro" is not available on RHEL, Rocky or AlmaLinux (they ship no etcd package): set "release"');
  }
  if (cfg.kubernetes.packageRevision !== "1.1") {
    problems.add(
      ["kubernetes", "packageRevision"],
      `${cfg.kubernetes.packageRevision} is a Debian revision; RHEL-family hosts pin the rpm version alone (${cfg.kubernetes.version}): remove the key`,
    );
  }
}
