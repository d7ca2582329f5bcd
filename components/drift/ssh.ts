/**
 * SSH for the drift resources: one connection per host for the whole provider process.
 *
 * Pulumi serializes a dynamic provider's functions into the provider process, so this
 * module holds no state of its own: the pool lives on globalThis (every dynamic resource of
 * a deployment runs in the same provider process, whatever module copy it came from), and
 * ssh2 is required inside the functions so the serialized code loads it from node_modules.
 */
import type { Client, ClientChannel, ConnectConfig } from "ssh2";

/** Where and how to reach a host. `privateKey` is a secret input of every drift resource. */
export interface SshTarget {
  address: string;
  port: number;
  user: string;
  privateKey: string;
  /** Pinned host key ("ssh-ed25519 AAAA..."): any other key is refused. */
  hostKey?: string;
  /** Run commands through `sudo -n` (a user other than root). */
  sudo: boolean;
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

interface PoolEntry {
  ready: Promise<Client>;
  /** Channels open now, and waiters for one: sshd allows 10 sessions per connection by default. */
  active: number;
  waiting: Array<() => void>;
}

interface Pool {
  entries: Map<string, PoolEntry>;
  /** Connections opened since the process started (a test counts them). */
  dials: number;
}

export const POOL_SYMBOL = "kubeadm-on-pulumi.drift.ssh-pool";
const MAX_CHANNELS = 4;
/** A refresh marks a host unreachable after this long, instead of hanging. */
const CONNECT_TIMEOUT_MS = 15_000;

export function sshPool(): Pool {
  const g = globalThis as unknown as Record<symbol, Pool | undefined>;
  const key = Symbol.for(POOL_SYMBOL);
  let pool = g[key];
  if (!pool) {
    pool = { entries: new Map(), dials: 0 };
    g[key] = pool;
  }
  return pool;
}

/** A failure to reach or log in to a host, as opposed to a command that failed on it. */
export function isUnreachable(error: unknown): boolean {
  return typeof error === "object" && error !== null && (error as { kopUnreachable?: boolean }).kopUnreachable === true;
}

function unreachable(target: SshTarget, cause: unknown): Error {
  const message = cause instanceof Error ? cause.message : String(cause);
  const error = new Error(`${target.user}@${target.address}:${target.port} is unreachable: ${message}`) as Error & { kopUnreachable: boolean };
  error.kopUnreachable = true;
  return error;
}

function poolKey(target: SshTarget): string {
  const { createHash } = require("node:crypto") as typeof import("node:crypto");
  const key = createHash("sha256").update(target.privateKey).digest("hex").slice(0, 16);
  return `${target.user}@${target.address}:${target.port}#${key}#${target.hostKey ?? ""}`;
}

function connect(target: SshTarget, key: string): PoolEntry {
  const { Client: SshClient } = require("ssh2") as typeof import("ssh2");
  const pool = sshPool();
  const client = new SshClient();
  const entry: PoolEntry = { ready: Promise.resolve(client), active: 0, waiting: [] };
  const forget = () => {
    if (pool.entries.get(key) === entry) pool.entries.delete(key);
  };
  entry.ready = new Promise<Client>((resolve, reject) => {
    let settled = false;
    client.on("ready", () => {
      settled = true;
      resolve(client);
    });
    client.on("error", (e) => {
      forget();
      if (!settled) {
        settled = true;
        reject(unreachable(target, e));
      }
    });
    client.on("close", () => {
      forget();
      if (!settled) {
        settled = true;
        reject(unreachable(target, new Error("connection closed during the handshake")));
      }
    });
  });
  // The provider process exits when the engine is done with it; an idle connection must not keep it alive.
  entry.ready.then((c) => (c as unknown as { _sock?: { unref?: () => void } })._sock?.unref?.(), () => undefined);
  const config: ConnectConfig = {
    host: target.address,
    port: target.port,
    username: target.user,
    privateKey: target.privateKey,
    readyTimeout: CONNECT_TIMEOUT_MS,
    keepaliveInterval: 10_000,
    keepaliveCountMax: 3,
  };
  if (target.hostKey) {
    const pinned = Buffer.from(target.hostKey.trim().split(/\s+/)[1] ?? "", "base64");
    config.hostVerifier = (presented: Buffer) => presented.equals(pinned);
  }
  pool.dials += 1;
  client.connect(config);
  return entry;
}

/** The pooled connection to a host, dialled on first use. */
function entryFor(target: SshTarget): PoolEntry {
  const pool = sshPool();
  const key = poolKey(target);
  let entry = pool.entries.get(key);
  if (!entry) {
    entry = connect(target, key);
    pool.entries.set(key, entry);
  }
  return entry;
}

function quote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** The command line that runs a bash script as root on the host. */
export function remoteCommand(script: string, sudo: boolean): string {
  return `${sudo ? "sudo -n " : ""}bash -c ${quote(script)}`;
}

function runOnChannel(client: Client, command: string, stdin: string | Buffer | undefined): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    client.exec(command, (err: Error | undefined, channel: ClientChannel) => {
      if (err) return reject(err);
      const out: Buffer[] = [];
      const errOut: Buffer[] = [];
      channel.on("data", (d: Buffer) => out.push(d));
      channel.stderr.on("data", (d: Buffer) => errOut.push(d));
      channel.on("close", (code: number | null, signal?: string) => {
        resolve({
          code: code ?? (signal ? 128 : 255),
          stdout: Buffer.concat(out).toString("utf8"),
          stderr: Buffer.concat(errOut).toString("utf8"),
        });
      });
      channel.end(stdin ?? "");
    });
  });
}

/**
 * Runs a bash script on the host over the pooled connection. Rejects with an unreachable
 * error (see isUnreachable) when the host cannot be reached; resolves with the exit code
 * otherwise. A connection that died since its last use is dialled again once.
 */
export async function sshRun(target: SshTarget, script: string, stdin?: string | Buffer): Promise<ExecResult> {
  const command = remoteCommand(script, target.sudo);
  for (let attempt = 1; ; attempt++) {
    const entry = entryFor(target);
    const client = await entry.ready;
    while (entry.active >= MAX_CHANNELS) await new Promise<void>((resolve) => entry.waiting.push(resolve));
    entry.active += 1;
    try {
      return await runOnChannel(client, command, stdin);
    } catch (e) {
      // The channel could not be opened: the connection is gone (host rebooted, network cut).
      const pool = sshPool();
      const key = poolKey(target);
      if (pool.entries.get(key) === entry) pool.entries.delete(key);
      client.end();
      if (attempt >= 2) throw unreachable(target, e);
    } finally {
      entry.active -= 1;
      entry.waiting.shift()?.();
    }
  }
}

/** Runs a script that must succeed; the error carries its output. */
export async function sshCheck(target: SshTarget, script: string, what: string, stdin?: string | Buffer): Promise<string> {
  const result = await sshRun(target, script, stdin);
  if (result.code !== 0) {
    throw new Error(`${what} on ${target.address} failed (exit ${result.code}): ${(result.stderr || result.stdout).trim().slice(-2000)}`);
  }
  return result.stdout;
}

/** Closes every pooled connection (tests; the provider process simply exits). */
export async function closeSshPool(): Promise<void> {
  const pool = sshPool();
  const entries = [...pool.entries.values()];
  pool.entries.clear();
  await Promise.all(entries.map((e) => e.ready.then((c) => c.end(), () => undefined)));
}
