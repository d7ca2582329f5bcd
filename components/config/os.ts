import { z } from "zod";
import { hostOrAddress } from "./fields";

export const osSchema = z.strictObject({
  /** NTP servers for chrony; the distribution's pool when empty (set local servers behind a firewall). */
  timeServers: z.array(hostOrAddress()).default([]),
  /** Extra sysctls written with the Kubernetes ones, e.g. { "fs.inotify.max_user_watches": "524288" }. */
  sysctls: z.record(z.string().regex(/^[a-z0-9_]+(\.[a-z0-9_-]+)+$/, "is not a sysctl name"), z.string()).default({}),
  /** Minimum resources a control plane must have (kubeadm's own preflight wants 2 CPUs and 1700 MiB). */
  controlPlaneMinCpus: z.number().int().min(1).default(2),
  controlPlaneMinMemoryMiB: z.number().int().min(256).default(1700),
  /** Distribution family of every host: "debian" (Debian, Ubuntu: apt) or "rhel" (RHEL, Rocky, AlmaLinux: dnf). */
  family: z.enum(["debian", "rhel"]).default("debian"),
  /** RHEL family only (docs/rhel.md): SELinux mode the hosts are put in; "leave" keeps each host's own. Default permissive. */
  selinux: z.enum(["permissive", "enforcing", "leave"]).optional(),
  /** RHEL family only (docs/rhel.md): "open" opens each role's ports in a running firewalld; "leave" touches nothing. Default open. */
  firewalld: z.enum(["open", "leave"]).optional(),
});
