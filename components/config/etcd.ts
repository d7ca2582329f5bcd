import { z } from "zod";
import { port, positiveInt, semver } from "./fields";

const absolutePath = () => z.string().regex(/^\/[^\s]*$/, "is not an absolute path");

export const etcdSchema = z.strictObject({
  /** stacked: kubeadm runs etcd on the control planes; external: a dedicated cluster on the hosts with the etcd role. */
  topology: z.enum(["stacked", "external"]).default("stacked"),
  /** External etcd only: where the etcd binaries come from (distro: etcd-server/etcd-client packages; release: upstream tarballs). */
  source: z.enum(["distro", "release"]).default("release"),
  /**
   * Release version when source is "release" (the distro packages bring their own). Default: the etcd
   * the chosen Kubernetes minor's kubeadm runs itself (etcdVersionFor), as kubespray pins etcd per release.
   */
  version: semver("3.6.8").optional(),
  dataDir: absolutePath().default("/var/lib/etcd"),
  clientPort: port().default(2379),
  peerPort: port().default(2380),
  /** Validity of the member and client certificates; the CA is valid for 10 years. */
  certificateValidityDays: positiveInt().default(1825),
  /** Bump to re-issue every member and client certificate (members restart one at a time). */
  certificateGeneration: z.number().int().min(0).default(0),
  backup: z
    .strictObject({
      enabled: z.boolean().default(true),
      /** systemd OnCalendar expression. */
      schedule: z.string().min(1).default("*-*-* 02:00:00"),
      /** Snapshots kept on each member. */
      retention: positiveInt().default(7),
      dir: absolutePath().default("/var/backups/etcd"),
      /** Keep the snapshots when the backup (or the whole cluster) is deleted. */
      keepOnDelete: z.boolean().default(true),
    })
    .prefault({}),
});

export type EtcdInput = z.output<typeof etcdSchema>;

/**
 * kubeadm's DefaultEtcdVersion (cmd/kubeadm/app/constants) at the newest patch of each minor: 3.5.24
 * up to 1.33 (1.33.13), 3.6.5 for 1.34 (1.34.4), 3.6.6 for 1.35 (1.35.4), 3.6.8 for 1.36 (1.36.3),
 * 3.7.0 for 1.37 (1.37.2). A cluster upgraded one minor at a time moves etcd one step at a time too.
 */
const KUBEADM_ETCD: Array<[fromMinor: number, version: string]> = [
  [37, "3.7.0"],
  [36, "3.6.8"],
  [35, "3.6.6"],
  [34, "3.6.5"],
  [0, "3.5.24"],
];

export function etcdVersionFor(minor: number): string {
  return KUBEADM_ETCD.find(([from]) => minor >= from)![1];
}

/**
 * kubeadm's MinExternalEtcdVersion, which its preflight enforces as an error ("this version of kubeadm
 * only supports external etcd version >= ..."): 3.5.24 in 1.33.13, 1.34.4, 1.35.4, 1.36.3 and 1.37.2.
 * Older minors are not checked here (their kubeadm sources were not at hand).
 */
export const KUBEADM_MIN_EXTERNAL_ETCD = { fromMinor: 33, version: "3.5.24" } as const;
