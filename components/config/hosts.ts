import { z } from "zod";
import { hostAddress, labelKey, labelValue, nodeName, port } from "./fields";

export const ROLES = ["control-plane", "worker", "etcd", "load-balancer"] as const;
export type Role = (typeof ROLES)[number];

const sshFields = {
  /** Login user; anything but root runs every step through `sudo -n`. */
  user: z.string().min(1),
  port: port(),
  /** Path of a private key file on the machine that runs pulumi. Alternative: the secret `cluster:sshPrivateKey`. */
  privateKeyPath: z.string().min(1),
  /** Pin the host key ("ssh-ed25519 AAAA..."): connections to a host presenting another key are refused. */
  hostKey: z.string().regex(/^(ssh-ed25519|ecdsa-sha2-nistp\d+|ssh-rsa) [A-Za-z0-9+/=]+$/, "is not an OpenSSH public host key line"),
};

export const sshSchema = z.strictObject({
  user: sshFields.user.default("root"),
  port: sshFields.port.default(22),
  privateKeyPath: sshFields.privateKeyPath.optional(),
  hostKey: sshFields.hostKey.optional(),
});

/** Per-host overrides: no defaults of their own, so unset keys fall back to cluster:ssh. */
const hostSshSchema = z.strictObject({
  user: sshFields.user.optional(),
  port: sshFields.port.optional(),
  privateKeyPath: sshFields.privateKeyPath.optional(),
  hostKey: sshFields.hostKey.optional(),
});

export const taintSchema = z.strictObject({
  key: labelKey(),
  value: labelValue().optional(),
  effect: z.enum(["NoSchedule", "PreferNoSchedule", "NoExecute"]),
});

export const hostSchema = z.strictObject({
  name: nodeName(),
  /** Where SSH connects to. */
  address: hostAddress({ allowName: true }),
  /** The address the node uses inside the cluster (kubelet --node-ip, etcd, HAProxy backends); defaults to `address`. */
  internalAddress: hostAddress({ allowName: false }).optional(),
  roles: z.array(z.enum(ROLES)).min(1, "a host needs at least one role (control-plane, worker, etcd, load-balancer)"),
  labels: z.record(labelKey(), labelValue()).default({}),
  taints: z.array(taintSchema).default([]),
  ssh: hostSshSchema.optional(),
});

export type HostInput = z.output<typeof hostSchema>;
export type SshInput = z.output<typeof sshSchema>;
