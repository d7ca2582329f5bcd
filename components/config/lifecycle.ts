import { z } from "zod";
import { positiveInt } from "./fields";

export const lifecycleSchema = z.strictObject({
  /** How long `kubectl drain` may take before a node removal or upgrade fails. */
  drainTimeoutSeconds: positiveInt().default(300),
  /** Workers drained and upgraded together during a version upgrade. */
  upgradeBatchSize: positiveInt().default(1),
  /** Bump to re-create the bootstrap token and certificate key (rotation on demand). */
  secretsGeneration: z.number().int().min(0).default(0),
  /** Bump to read the admin kubeconfig into the stack output again (after `kubeadm certs renew`). */
  kubeconfigGeneration: z.number().int().min(0).default(0),
});

export type LifecycleInput = z.output<typeof lifecycleSchema>;
