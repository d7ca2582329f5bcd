import * as fs from "node:fs";
import * as path from "node:path";
import { parse as parseYaml, YAMLParseError } from "yaml";
import { CONFIG_NAMESPACE, ConfigError, closest, type ConfigProblem } from "./errors";
import { parseClusterConfig, type ClusterModel, type ParseOptions } from "./model";
import { TOP_LEVEL_KEYS } from "./schema";

/** Namespaces that may appear in a stack file besides ours (provider settings). */
const FOREIGN_NAMESPACES = new Set(["pulumi", "command", "kubernetes", "random"]);

/** Keys whose values are secrets: kept out of the model, only their presence is recorded. */
export const SECRET_KEYS = new Set(["sshPrivateKey"]);

/** A stack file that is not YAML, reported as `stacks/Pulumi.<stack>.yaml:LINE:COL: message`. */
export class StackFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StackFileError";
  }
}

/**
 * Secret keys must reach the stack file encrypted (`secure:` in the YAML). `isSecret` tells
 * whether the value of a "cluster:<key>" entry is; `where` names the stack file for the message.
 */
export function plaintextSecrets(entries: Record<string, unknown>, isSecret: (fullKey: string) => boolean, where: string): ConfigProblem[] {
  return [...SECRET_KEYS]
    .map((key) => `${CONFIG_NAMESPACE}:${key}`)
    .filter((fullKey) => entries[fullKey] !== undefined && !isSecret(fullKey))
    .map((fullKey) => ({
      key: fullKey,
      message:
        `is written in plain text in ${where}; a private key must be stored encrypted: ` +
        `run \`pulumi config set --secret ${fullKey} < ~/.ssh/id_ed25519\` (with your key file), which replaces the plain-text value`,
    }));
}

/** The model only records that a secret key is set; its value stays with Pulumi's config. */
export function maskSecrets(section: Record<string, unknown>): Record<string, unknown> {
  for (const key of SECRET_KEYS) {
    if (section[key] !== undefined) section[key] = "<secret>";
  }
  return section;
}

/**
 * Splits "namespace:key" entries into our section. Unknown namespaces are typos
 * ("clustr:hosts") and reported like unknown keys.
 */
export function clusterSection(entries: Record<string, unknown>): Record<string, unknown> {
  const section: Record<string, unknown> = {};
  const problems: { key: string; message: string }[] = [];
  for (const [fullKey, value] of Object.entries(entries)) {
    const colon = fullKey.indexOf(":");
    const namespace = colon >= 0 ? fullKey.slice(0, colon) : "";
    const key = fullKey.slice(colon + 1);
    if (namespace === CONFIG_NAMESPACE) section[key] = value;
    else if (!FOREIGN_NAMESPACES.has(namespace)) {
      const hint = closest(namespace, [CONFIG_NAMESPACE]) ? ` (did you mean "${CONFIG_NAMESPACE}:${key}"?)` : "";
      const known = TOP_LEVEL_KEYS.includes(key) ? hint : "";
      problems.push({ key: fullKey, message: `unknown config namespace "${namespace}"${known}` });
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return section;
}

/**
 * Path of a stack's config file, where `pulumi` looks for it: Pulumi.<stack>.yaml in the project
 * file's stackConfigDir (stacks/), or beside the project file when it names none.
 */
export function stackFilePath(stack: string, projectDir = path.resolve(__dirname, "..", "..")): string {
  const projectFile = path.join(projectDir, "Pulumi.yaml");
  const project = parseYaml(fs.readFileSync(projectFile, "utf8")) as { stackConfigDir?: unknown } | null;
  const dir = project?.stackConfigDir ?? ".";
  if (typeof dir !== "string") throw new Error(`${projectFile}: stackConfigDir must be a directory name`);
  return path.join(projectDir, dir, `Pulumi.${stack}.yaml`);
}

/**
 * Reads stacks/Pulumi.<stack>.yaml directly (no Pulumi engine), for the render and graph tools.
 * Secure values are not decrypted: a secret key only counts as present.
 */
export function loadStackFile(stack: string, opts: Partial<ParseOptions> & { projectDir?: string } = {}): ClusterModel {
  const { entries, shown } = readStackConfig(stack, opts.projectDir);
  const isSecure = (key: string) => typeof entries[key] === "object" && entries[key] !== null && "secure" in (entries[key] as object);
  const plaintext = plaintextSecrets(entries, isSecure, shown);
  if (plaintext.length > 0) throw new ConfigError(plaintext);
  const section = maskSecrets(clusterSection(entries));
  return parseClusterConfig(section, { stackName: stack, ...opts });
}

/** The `config:` entries of stacks/Pulumi.<stack>.yaml as written (secure values undecrypted), and the file as shown in messages. */
export function readStackConfig(stack: string, projectDir = path.resolve(__dirname, "..", "..")): { entries: Record<string, unknown>; shown: string } {
  const file = stackFilePath(stack, projectDir);
  const shown = path.relative(projectDir, file);
  const doc = parseStackYaml(fs.readFileSync(file, "utf8"), shown) as { config?: Record<string, unknown> } | null;
  return { entries: doc?.config ?? {}, shown };
}

/** Parses a stack file's text; a syntax error becomes `FILE:LINE:COL: message`. */
export function parseStackYaml(text: string, shownPath: string): unknown {
  try {
    return parseYaml(text);
  } catch (e) {
    if (!(e instanceof YAMLParseError)) throw e;
    const [line, col] = e.linePos ? [e.linePos[0].line, e.linePos[0].col] : [1, 1];
    const reason = e.message.replace(/ at line \d+, column \d+:[\s\S]*$/, "");
    throw new StackFileError(`${shownPath}:${line}:${col}: ${reason}`);
  }
}

/** The same model from an in-memory object (tests, benchmarks). */
export function modelFromObject(section: Record<string, unknown>, stackName = "test"): ClusterModel {
  return parseClusterConfig(section, { stackName });
}
