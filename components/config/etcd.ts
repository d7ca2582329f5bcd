import { z } from "zod";
import { port, positiveInt, semver } from "./fields";

export const etcdSchema = z.strictObject({
  /** stacked: kubeadm runs etcd on the control planes; external: a dedicated cluster on the hosts with the etcd role. */
  topology: z.enum(["stacked", "external"]).default("stacked"),
  /** External etcd only: where the etcd binaries come from. */
  source: z.enum(["distro", "release"]).default("release"),
  /** Release version when source is "release". */
  version: semver().default("3.5.16"),
  dataDir: z.string().regex(/^\/[^\s]*$/, "is not an absolute path").default("/var/lib/etcd"),
  clientPort: port().default(2379),
  peerPort: port().default(2380),
  backup: z
    .strictObject({
      enabled: z.boolean().default(true),
      /** systemd OnCalendar expression. */
      schedule: z.string().min(1).default("*-*-* 02:00:00"),
      /** Snapshots kept. */
      retention: positiveInt().default(7),
      dir: z.string().regex(/^\/[^\s]*$/, "is not an absolute path").default("/var/backups/etcd"),
    })
    .prefault({}),
});

export type EtcdInput = z.output<typeof etcdSchema>;
