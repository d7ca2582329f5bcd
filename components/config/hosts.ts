import { z } from "zod";
import { hostOrAddress, ipv4, labelKey, labelValue, nodeName, port } from "./fields";

export const ROLES = ["control-plane", "worker", "etcd", "load-balancer"] as const;
export type Role = (typeof ROLES)[number];

export const sshSchema = z.strictObject({
  /** Login user; anything but root runs every step through `sudo -n`. */
  user: z.string().min(1).default("root"),
  port: port().default(22),
  /** Path of a private key file on the machine that runs pulumi. Alternative: the secret `cluster:sshPrivateKey`. */
  privateKeyPath: z.string().min(1).optional(),
  /** Pin the host key ("ssh-ed25519 AAAA..."); the first connection of every step is refused when it differs. */
  hostKey: z.string().regex(/^(ssh-ed25519|ecdsa-sha2-nistp\d+|ssh-rsa) [A-Za-z0-9+/=]+$/, "is not an OpenSSH public host key line").optional(),
});

const hostSshSchema = sshSchema.partial();

export const taintSchema = z.strictObject({
  key: labelKey(),
  value: labelValue().optional(),
  effect: z.enum(["NoSchedule", "PreferNoSchedule", "NoExecute"]),
});

export const hostSchema = z.strictObject({
  name: nodeName(),
  /** Where SSH connects to. */
  address: hostOrAddress(),
  /** The address the node uses inside the cluster (kubelet --node-ip, etcd, HAProxy backends); defaults to `address`. */
  internalAddress: ipv4().optional(),
  roles: z.array(z.enum(ROLES)).min(1, "a host needs at least one role (control-plane, worker, etcd, load-balancer)"),
  labels: z.record(labelKey(), labelValue()).default({}),
  taints: z.array(taintSchema).default([]),
  ssh: hostSshSchema.optional(),
});

export type HostInput = z.output<typeof hostSchema>;
export type SshInput = z.output<typeof sshSchema>;
