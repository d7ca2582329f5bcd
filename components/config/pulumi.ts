import * as pulumi from "@pulumi/pulumi";
import { CONFIG_NAMESPACE } from "./errors";
import { clusterSection, maskSecrets } from "./load";
import { parseClusterConfig, type ClusterModel } from "./model";

/** Keys whose values are plain strings even when they look like JSON. */
const STRING_KEYS = new Set(["name", "sshPrivateKey"]);

/**
 * The model from the running stack's config (`pulumi preview/up`). Pulumi hands structured
 * values over as JSON text; they are decoded here so the same parser serves both paths.
 */
export function modelFromPulumiConfig(): { model: ClusterModel; sshPrivateKey?: pulumi.Output<string> } {
  const entries: Record<string, unknown> = {};
  for (const [fullKey, text] of Object.entries(pulumi.runtime.allConfig())) {
    const key = fullKey.slice(fullKey.indexOf(":") + 1);
    entries[fullKey] = fullKey.startsWith(`${CONFIG_NAMESPACE}:`) && !STRING_KEYS.has(key) ? decode(text) : text;
  }
  const section = maskSecrets(clusterSection(entries));
  // A preview connects to no host: only `pulumi up` (and refresh, destroy) need the key.
  const model = parseClusterConfig(section, { stackName: pulumi.getStack(), requireSshKey: !pulumi.runtime.isDryRun() });
  const sshPrivateKey = new pulumi.Config(CONFIG_NAMESPACE).getSecret("sshPrivateKey");
  return { model, sshPrivateKey };
}

function decode(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
