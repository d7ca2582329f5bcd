import { z } from "zod";
import { addonsSchema } from "./addons";
import { etcdSchema } from "./etcd";
import { nodeName } from "./fields";
import { hostSchema, sshSchema } from "./hosts";
import { endpointSchema, kubernetesSchema } from "./kubernetes";
import { lifecycleSchema } from "./lifecycle";
import { loadBalancerSchema } from "./load-balancer";
import { mirrorsSchema } from "./mirrors";
import { runtimeSchema } from "./runtime";
import { osSchema } from "./os";

/** Everything under the `cluster:` namespace of a stack's config. */
export const stackConfigSchema = z.strictObject({
  /** Cluster name (kubeadm clusterName, kubeconfig context); defaults to the stack name. */
  name: nodeName().optional(),
  kubernetes: kubernetesSchema,
  controlPlaneEndpoint: endpointSchema.prefault({}),
  /** Defaults for every host's SSH connection. */
  ssh: sshSchema.prefault({}),
  /** Secret: the SSH private key (`pulumi config set --secret cluster:sshPrivateKey < key`). */
  sshPrivateKey: z.string().min(1).optional(),
  hosts: z.array(hostSchema).min(1, "list at least one host"),
  runtime: runtimeSchema.prefault({}),
  mirrors: mirrorsSchema.prefault({}),
  loadBalancer: loadBalancerSchema.prefault({}),
  etcd: etcdSchema.prefault({}),
  addons: addonsSchema.prefault({}),
  lifecycle: lifecycleSchema.prefault({}),
  os: osSchema.prefault({}),
});

export type StackConfigInput = z.input<typeof stackConfigSchema>;
export type StackConfig = z.output<typeof stackConfigSchema>;

/** The config keys a stack may set, for "unknown key" hints. */
export const TOP_LEVEL_KEYS = Object.keys(stackConfigSchema.shape);
