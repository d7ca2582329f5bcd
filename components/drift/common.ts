import type * as pulumi from "@pulumi/pulumi";

/**
 * Pieces shared by the drift resources' providers. Everything here runs inside the
 * serialized providers too: no module state, externals required inside the functions.
 */
import type { SshTarget } from "./ssh";

/** How a host is reached: the same settings remote.Command gets (components/remote/remote-step.ts). */
export interface ConnectionProps {
  /** The stack config's name of the host (what reports name). */
  host: string;
  address: string;
  port: number;
  user: string;
  /** Secret. */
  privateKey: string;
  hostKey?: string;
  sudo: boolean;
}

/** The engine's placeholder for a value that is not known during preview. */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

export const CONNECTION_KEYS = ["address", "port", "user", "privateKey", "hostKey", "sudo"] as const;

export function targetOf(props: ConnectionProps): SshTarget {
  return {
    address: props.address,
    port: props.port,
    user: props.user,
    privateKey: props.privateKey,
    hostKey: props.hostKey || undefined,
    sudo: props.sudo,
  };
}

/** Connection settings that changed: an update (re-verify with the new ones), never a replace. */
export function changedConnectionKeys(olds: Partial<ConnectionProps>, news: Partial<ConnectionProps>): string[] {
  return CONNECTION_KEYS.filter((k) => (olds[k] ?? "") !== (news[k] ?? ""));
}

export function sha256Hex(data: string | Buffer): string {
  const { createHash } = require("node:crypto") as typeof import("node:crypto");
  return createHash("sha256").update(data).digest("hex");
}

/** A keyed hash: without the (secret) salt it tells nothing about the content, even a short password. */
export function keyedHash(salt: string, data: Buffer): string {
  const { createHmac } = require("node:crypto") as typeof import("node:crypto");
  return `hmac-sha256:${createHmac("sha256", Buffer.from(salt, "hex")).update(data).digest("hex")}`;
}

export function newSalt(): string {
  const { randomBytes } = require("node:crypto") as typeof import("node:crypto");
  return randomBytes(32).toString("hex");
}

/** "644", "0644" or 0o644 -> "0644". */
export function modeText(mode: string | number): string {
  const value = typeof mode === "number" ? mode : parseInt(mode, 8);
  return value.toString(8).padStart(4, "0");
}

export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

export function isUnknown(value: unknown): boolean {
  return value === UNKNOWN;
}

/**
 * The value without undefined properties (recursively): the provider process sends results as a
 * protobuf Struct, which rejects undefined ("Unexpected struct type").
 */
export function withoutUndefined<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v) => withoutUndefined(v)) as T;
  if (value && typeof value === "object" && !Buffer.isBuffer(value)) {
    return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined).map(([k, v]) => [k, withoutUndefined(v)])) as T;
  }
  return value;
}

/**
 * What a refresh stores as the resource's inputs: the live view, in the shape the program
 * declares, so `pulumi preview` after a refresh shows each drifted value going back to the
 * declared one. The private key is left out: inputs returned by a read are not re-marked secret.
 */
export function refreshedInputs<T extends object>(state: T, keys: readonly string[]): Partial<T> {
  const picked = Object.fromEntries(Object.entries(state).filter(([k]) => keys.includes(k) && k !== "privateKey"));
  return withoutUndefined(picked) as Partial<T>;
}

/** How a drift resource reaches its host (resource args; the providers see ConnectionProps). */
export interface DriftConnectionArgs {
  address: pulumi.Input<string>;
  port: pulumi.Input<number>;
  user: pulumi.Input<string>;
  privateKey: pulumi.Input<string>;
  hostKey?: pulumi.Input<string>;
  sudo: boolean;
}
