import { z } from "zod";
import { port, positiveInt, semver } from "./fields";

const absolutePath = () => z.string().regex(/^\/[^\s]*$/, "is not an absolute path");

export const etcdSchema = z.strictObject({
  /** stacked: kubeadm runs etcd on the control planes; external: a dedicated cluster on the hosts with the etcd role. */
  topology: z.enum(["stacked", "external"]).default("stacked"),
  /** External etcd only: where the etcd binaries come from (distro: etcd-server/etcd-client packages; release: upstream tarballs). */
  source: z.enum(["distro", "release"]).default("release"),
  /** Release version when source is "release" (the distro packages bring their own). */
  version: semver("3.5.16").default("3.5.16"),
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
