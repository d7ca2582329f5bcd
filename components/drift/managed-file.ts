/**
 * One managed file: a rendered file on a host, with a real read (what is there now) and diff
 * (what differs from what the program declares). The cluster declares these as entries of a
 * step's ManagedFiles list (grouped.ts), which hands each entry to this provider: `pulumi
 * refresh` reads every managed file back, `pulumi up` puts drifted ones back and bumps the
 * list's `revision`, which is in the command of the step that applies the file, so exactly
 * that step re-runs (and reloads what reads the file).
 *
 * Two kinds:
 * - plain: the content is declared; the provider writes it (kop_write, the same atomic write
 *   with backup as the step's kop_put) and the state keeps the live content, so preview shows
 *   the text someone changed.
 * - secret: the step writes the content from its stdin secrets; the provider never sees the
 *   declared content. It compares the live file with what the last successful run of the step
 *   left there (the host-side record kop_put keeps, see prelude.sh) and keeps only a keyed
 *   hash of the live content, with a random salt that is itself a secret output.
 */
import * as pulumi from "@pulumi/pulumi";
import { PRELUDE } from "../remote/shell";
import { changedConnectionKeys, isUnknown, keyedHash, modeText, newSalt, sha256Hex, shellQuote, targetOf, type ConnectionProps, withoutUndefined } from "./common";
import { refreshOrKeep } from "./refresh";
import { sshCheck } from "./ssh";

/** Files above this size are not read back (rendered configs are a few KiB). */
const MAX_READ_BYTES = 4 * 1024 * 1024;
const DEFAULT_OWNER = "root:root";
/** The properties the program declares (see ManagedFile), plus the refresh's marker. */
const FILE_INPUT_KEYS = ["host", "address", "port", "user", "hostKey", "sudo", "path", "mode", "secret", "wantOwner", "content", "contentHash", "exists", "drift", "unreachable"];

export interface ManagedFileInputs extends ConnectionProps {
  path: string;
  /** Declared mode, "0644". */
  mode: string;
  /** Plain files: the declared content. Absent for secret files. */
  content?: string;
  /** sha256 of the declared content (plain files), so a preview shows the hash moving back. */
  contentHash?: string;
  secret: boolean;
  /** Declared owner; default: root:root for plain files, what the last apply left for secret ones. */
  wantOwner?: string;
}

export interface ManagedFileState extends ConnectionProps {
  path: string;
  secret: boolean;
  wantOwner?: string;
  /** Live mode (plain files; secret files report a mode change in `drift`). */
  mode: string;
  /** Live content (plain files that are text). */
  content?: string;
  /** Live content hash: sha256 for plain files; for secret files a keyed hash, only while drifted. */
  contentHash?: string;
  exists: boolean;
  /** Live owner (plain files). */
  owner?: string;
  /** What the program declared at the last create/update; a refresh compares with it. */
  declared: { mode: string; contentHash?: string; owner?: string };
  /** Each difference between the host and the declaration, in words; empty when in sync. */
  drift: string[];
  /** Bumped by every repair: the applying step's triggers include it. */
  revision: number;
  /** Secret files: the key of contentHash (a secret output). */
  salt?: string;
  /** Set by a refresh that could not reach the host: the rest is the last known state. */
  unreachable?: string;
}

interface LiveFile {
  exists: boolean;
  mode?: string;
  owner?: string;
  content?: Buffer;
  /** The host's record of the last successful apply: "<sha256> <mode> <owner>", "stale ...", or "". */
  record: string;
}

/** Reads a file's state and its applied record; content as base64 on the last line. */
export function readFileScript(path: string): string {
  const p = shellQuote(path);
  return [
    PRELUDE,
    "trap - EXIT",
    `p=${p}`,
    `if [ -f "$p" ]; then`,
    `  size=$(stat -c %s "$p")`,
    `  if [ "$size" -gt ${MAX_READ_BYTES} ]; then echo "$p is $size bytes: too large to check" >&2; exit 3; fi`,
    `  printf 'present %s %s\\n' "$(stat -c %a "$p")" "$(stat -c %U:%G "$p")"`,
    `elif [ -e "$p" ]; then echo "$p exists but is not a regular file" >&2; exit 3`,
    `else echo absent; fi`,
    `printf 'record %s\\n' "$(cat "$KOP_APPLIED$p" 2>/dev/null || true)"`,
    `if [ -f "$p" ]; then base64 -w0 <"$p"; fi`,
    `echo`,
  ].join("\n");
}

export function parseReadOutput(stdout: string): LiveFile {
  const lines = stdout.split("\n");
  const [state, mode, owner] = (lines[0] ?? "").split(" ");
  if (state !== "present" && state !== "absent") throw new Error(`unexpected answer from the host: ${stdout.slice(0, 200)}`);
  const recordLine = lines[1] ?? "";
  if (!recordLine.startsWith("record")) throw new Error(`unexpected answer from the host: ${stdout.slice(0, 200)}`);
  const record = recordLine.slice("record".length).trim();
  if (state === "absent") return { exists: false, record };
  return { exists: true, mode: modeText(mode), owner, content: Buffer.from((lines[2] ?? "").trim(), "base64"), record };
}

/**
 * Writes a plain file's declared content, mode and owner (each only when it differs) and,
 * when anything changed, marks the host's applied record stale so the step's kop_put reports
 * a change even though the content is already in place. Prints "changed" or "unchanged".
 */
export function writeFileScript(path: string, mode: string, owner: string): string {
  return [
    PRELUDE,
    "trap - EXIT",
    `p=${shellQuote(path)}`,
    "changed=0",
    `if kop_write "$p" ${modeText(mode)}; then changed=1; fi`,
    `if [ "$(stat -c %U:%G "$p")" != ${shellQuote(owner)} ]; then chown ${shellQuote(owner)} "$p"; changed=1; fi`,
    markStale(),
    `if [ "$changed" = 1 ]; then echo changed; else echo unchanged; fi`,
  ].join("\n");
}

/** Secret files: mode and owner put back here, the content by the step (the record goes stale). */
export function repairSecretScript(path: string, mode: string, owner: string | undefined): string {
  const lines = [PRELUDE, "trap - EXIT", `p=${shellQuote(path)}`, "changed=1"];
  lines.push(`if [ -f "$p" ] && [ "$(stat -c %a "$p")" != ${shellQuote(String(parseInt(mode, 8).toString(8)))} ]; then chmod ${modeText(mode)} "$p"; fi`);
  if (owner) lines.push(`if [ -f "$p" ] && [ "$(stat -c %U:%G "$p")" != ${shellQuote(owner)} ]; then chown ${shellQuote(owner)} "$p"; fi`);
  lines.push(markStale(), "echo changed");
  return lines.join("\n");
}

/** Keeps the record's mode and owner (the owner a secret file is checked against) and marks the content stale. */
function markStale(): string {
  return [
    `if [ "$changed" = 1 ]; then`,
    `  rec="$KOP_APPLIED$p"`,
    `  [ -d "$KOP_APPLIED" ] || install -d -m 0700 "$KOP_APPLIED"`,
    `  mkdir -p "$(dirname "$rec")"`,
    `  old=$(cat "$rec" 2>/dev/null || true)`,
    `  if [ -n "$old" ] && [ "\${old#* }" != "$old" ]; then echo "stale \${old#* }" >"$rec"; else echo stale >"$rec"; fi`,
    `fi`,
  ].join("\n");
}

async function readLive(props: ManagedFileInputs | ManagedFileState): Promise<LiveFile> {
  const out = await sshCheck(targetOf(props), readFileScript(props.path), `reading ${props.path}`);
  return parseReadOutput(out);
}

function recordParts(record: string): { hash?: string; mode?: string; owner?: string; stale: boolean } {
  const [hash, mode, owner] = record.split(" ");
  if (!hash) return { stale: false };
  return { hash: hash === "stale" ? undefined : hash, mode, owner, stale: hash === "stale" };
}

/**
 * Differences between the live file and the declaration, in words. `applied` adds the check
 * of the host's record (a refresh only: during create/update the step is about to run).
 */
export function fileDrift(live: LiveFile, declared: ManagedFileState["declared"], secret: boolean, applied: boolean): string[] {
  // A secret file appears when its step runs, after create/update: only a refresh calls its absence drift.
  if (!live.exists) return secret && !applied ? [] : ["missing"];
  const drift: string[] = [];
  const record = recordParts(live.record);
  const liveHash = sha256Hex(live.content ?? Buffer.alloc(0));
  if (!secret) {
    if (declared.contentHash && liveHash !== declared.contentHash) drift.push("content differs from the declared file");
  } else if (applied) {
    if (!live.record) drift.push("no record of a successful apply of this file");
    else if (record.stale) drift.push("rewritten since the last successful apply");
    else if (record.hash !== liveHash) drift.push("content differs from what the last successful apply wrote");
  }
  if (live.mode !== modeText(declared.mode)) drift.push(`mode ${live.mode} (declared ${modeText(declared.mode)})`);
  const owner = declared.owner ?? (secret ? record.owner : DEFAULT_OWNER);
  if (owner && live.owner !== owner) drift.push(`owner ${live.owner} (${declared.owner || !secret ? "declared" : "applied"} ${owner})`);
  if (!secret && applied && record.stale && drift.length === 0) drift.push("written but not applied: its step has not succeeded since");
  return drift;
}

function textOf(content: Buffer | undefined): string | undefined {
  if (!content) return undefined;
  const text = content.toString("utf8");
  return Buffer.from(text, "utf8").equals(content) ? text : undefined;
}

/** The state after looking at the host: live values, drift, and what was declared. */
function stateOf(
  inputs: ManagedFileInputs | ManagedFileState,
  live: LiveFile,
  declared: ManagedFileState["declared"],
  revision: number,
  salt: string | undefined,
  applied: boolean,
): ManagedFileState {
  const drift = fileDrift(live, declared, inputs.secret, applied);
  const base = {
    host: inputs.host,
    address: inputs.address,
    port: inputs.port,
    user: inputs.user,
    privateKey: inputs.privateKey,
    hostKey: inputs.hostKey,
    sudo: inputs.sudo,
    path: inputs.path,
    secret: inputs.secret,
    wantOwner: inputs.wantOwner,
    declared,
    drift,
    revision,
  };
  if (inputs.secret) {
    // Nothing derived from the secret content without the salt, and nothing at all while in sync.
    return {
      ...base,
      mode: declared.mode,
      exists: live.exists,
      salt,
      contentHash: drift.length > 0 && live.content && salt ? keyedHash(salt, live.content) : undefined,
    };
  }
  return {
    ...base,
    mode: live.exists ? live.mode! : declared.mode,
    owner: live.owner,
    exists: live.exists,
    content: textOf(live.content),
    contentHash: live.exists ? sha256Hex(live.content ?? Buffer.alloc(0)) : undefined,
  };
}

function declaredOf(inputs: ManagedFileInputs): ManagedFileState["declared"] {
  return {
    mode: modeText(inputs.mode),
    contentHash: inputs.secret ? undefined : sha256Hex(inputs.content ?? ""),
    owner: inputs.wantOwner || (inputs.secret ? undefined : DEFAULT_OWNER),
  };
}

/** Puts the declaration in place; true when something on the host changed. */
async function apply(inputs: ManagedFileInputs, live: LiveFile): Promise<boolean> {
  const declared = declaredOf(inputs);
  if (!inputs.secret) {
    const out = await sshCheck(targetOf(inputs), writeFileScript(inputs.path, inputs.mode, declared.owner!), `writing ${inputs.path}`, inputs.content ?? "");
    return out.trim() === "changed";
  }
  // Secret content comes from the step: repair only what a refresh would call drift.
  if (!live.exists || fileDrift(live, declared, true, true).length === 0) return false;
  await sshCheck(targetOf(inputs), repairSecretScript(inputs.path, inputs.mode, declared.owner ?? recordParts(live.record).owner), `repairing ${inputs.path}`);
  return true;
}

function checkInputs(inputs: ManagedFileInputs): Array<{ property: string; reason: string }> {
  const failures: Array<{ property: string; reason: string }> = [];
  if (!inputs.path?.startsWith("/") || inputs.path.includes("\n")) failures.push({ property: "path", reason: `must be an absolute path: ${inputs.path}` });
  if (!/^0?[0-7]{3,4}$/.test(String(inputs.mode))) failures.push({ property: "mode", reason: `must be an octal mode like 0644: ${inputs.mode}` });
  if (inputs.secret && inputs.content !== undefined) failures.push({ property: "content", reason: "a secret file's content stays out of the state: the step writes it" });
  if (inputs.wantOwner && !/^[a-z_][a-z0-9_-]*:[a-z_][a-z0-9_-]*$/.test(inputs.wantOwner)) failures.push({ property: "wantOwner", reason: `must be user:group: ${inputs.wantOwner}` });
  return failures;
}

export const managedFileProvider: pulumi.dynamic.ResourceProvider = {
  async check(_olds: ManagedFileInputs, news: ManagedFileInputs) {
    return { inputs: news, failures: checkInputs(news) };
  },

  async diff(_id: string, olds: ManagedFileState, news: ManagedFileInputs) {
    const replaces = (["host", "path"] as const).filter((k) => olds[k] !== news[k]);
    const changed: string[] = changedConnectionKeys(olds, news);
    if (olds.secret !== news.secret) changed.push("secret");
    if (isUnknown(news.mode) || modeText(olds.declared?.mode ?? olds.mode) !== modeText(news.mode)) changed.push("mode");
    if (!news.secret) {
      if (isUnknown(news.content) || olds.declared?.contentHash !== sha256Hex(news.content ?? "")) changed.push("content");
    }
    if ((olds.declared?.owner ?? "") !== (declaredOf(news).owner ?? "")) changed.push("owner");
    if ((olds.drift ?? []).length > 0) changed.push("drift");
    if (olds.unreachable) changed.push("unreachable");
    return { changes: replaces.length + changed.length > 0, replaces, deleteBeforeReplace: false };
  },

  async create(inputs: ManagedFileInputs) {
    const before = inputs.secret ? await readLive(inputs) : { exists: false, record: "" };
    await apply(inputs, before);
    const live = await readLive(inputs);
    const salt = inputs.secret ? newSalt() : undefined;
    return { id: `${inputs.host}:${inputs.path}`, outs: withoutUndefined(stateOf(inputs, live, declaredOf(inputs), 1, salt, false)) };
  },

  async read(id: string, props: ManagedFileState) {
    return refreshOrKeep(id, props, FILE_INPUT_KEYS, async () =>
      stateOf(props, await readLive(props), props.declared, props.revision, props.salt, true),
    );
  },

  async update(_id: string, olds: ManagedFileState, news: ManagedFileInputs) {
    const before = await readLive(news);
    const drifted = fileDrift(before, declaredOf(news), news.secret, true).length > 0;
    const changed = await apply(news, before);
    const live = await readLive(news);
    const salt = news.secret ? (olds.salt ?? newSalt()) : undefined;
    const revision = (olds.revision ?? 0) + (changed || drifted ? 1 : 0);
    return { outs: withoutUndefined(stateOf(news, live, declaredOf(news), revision, salt, false)) };
  },

  // The step's delete script restores the host's original file (kop_restore): nothing to do here.
  async delete() {},
};
