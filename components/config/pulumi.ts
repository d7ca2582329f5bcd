import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import * as runtimeConfig from "@pulumi/pulumi/runtime/config";
import { CONFIG_NAMESPACE, ConfigError } from "./errors";
import { clusterSection, maskSecrets, plaintextSecrets, stackFilePath } from "./load";
import { parseClusterConfig, type ClusterModel } from "./model";

/** Whether the language host passed a key as secret (an SDK export marked internal; checked so an upgrade that drops it fails loudly). */
function isConfigSecret(fullKey: string): boolean {
  const check = (runtimeConfig as unknown as { isConfigSecret?: (k: string) => boolean }).isConfigSecret;
  if (typeof check !== "function") throw new Error("@pulumi/pulumi/runtime/config no longer exports isConfigSecret: adapt components/config/pulumi.ts to this SDK version");
  return check(fullKey);
}

/** Keys whose values are plain strings even when they look like JSON. */
const STRING_KEYS = new Set(["name", "sshPrivateKey"]);

/**
 * The model from the running stack's config (`pulumi preview/up`). Pulumi hands structured
 * values over as JSON text; they are decoded here so the same parser serves both paths.
 */
export function modelFromPulumiConfig(): { model: ClusterModel; sshPrivateKey?: pulumi.Output<string> } {
  try {
    return readModel();
  } catch (e) {
    // A RunError is printed without the program's stack trace: the problem list is the whole message.
    if (e instanceof ConfigError) throw new pulumi.RunError(e.message);
    throw e;
  }
}

function readModel(): { model: ClusterModel; sshPrivateKey?: pulumi.Output<string> } {
  const entries: Record<string, unknown> = {};
  for (const [fullKey, text] of Object.entries(pulumi.runtime.allConfig())) {
    const key = fullKey.slice(fullKey.indexOf(":") + 1);
    entries[fullKey] = fullKey.startsWith(`${CONFIG_NAMESPACE}:`) && !STRING_KEYS.has(key) ? decode(text) : text;
  }
  const stackFile = path.relative(path.resolve(__dirname, "..", ".."), stackFilePath(pulumi.getStack()));
  const plaintext = plaintextSecrets(entries, isConfigSecret, stackFile);
  if (plaintext.length > 0) throw new ConfigError(plaintext);
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
