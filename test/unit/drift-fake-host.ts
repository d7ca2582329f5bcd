/**
 * A host for the drift providers' unit tests: a real SSH server (ssh2's, in process, on
 * 127.0.0.1) that runs each exec request with the local bash. Files live under a scratch
 * directory; the applied records go to <root>/applied instead of /var/lib; `systemctl` is a
 * small stand-in that keeps unit states in files (the hosts tier uses real systemd).
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { Server, utils, type Connection } from "ssh2";

const FAKE_SYSTEMCTL = String.raw`#!/usr/bin/env bash
# systemctl stand-in: units are files under $FAKE_UNITS (<unit>.enabled, <unit>.active; <unit>.exists).
set -u
quiet=0; args=()
for a in "$@"; do case "$a" in --quiet) quiet=1 ;; --no-pager|--value) ;; -p) ;; LoadState) ;; *) args+=("$a") ;; esac; done
cmd=\${args[0]:-}; unit=\${args[1]:-}
unit=\${unit%.service}
d=$FAKE_UNITS
say() { [ "$quiet" = 1 ] || echo "$1"; }
case "$cmd" in
  show) if [ -e "$d/$unit.exists" ]; then echo loaded; else echo not-found; fi ;;
  is-enabled) [ -e "$d/$unit.exists" ] || exit 1; if [ -e "$d/$unit.enabled" ]; then say enabled; else say disabled; exit 1; fi ;;
  is-active) if [ -e "$d/$unit.active" ]; then say active; else say inactive; exit 3; fi ;;
  enable) [ -e "$d/$unit.exists" ] || { echo "Unit $unit.service not found." >&2; exit 5; }; touch "$d/$unit.enabled" ;;
  disable) rm -f "$d/$unit.enabled" ;;
  start) [ -e "$d/$unit.exists" ] || { echo "Unit $unit.service not found." >&2; exit 5; }; [ -e "$d/$unit.broken" ] && exit 1; touch "$d/$unit.active" ;;
  stop) rm -f "$d/$unit.active" ;;
  reset-failed) ;;
  status) echo "fake status of $unit" ;;
  *) echo "fake systemctl: $cmd not supported" >&2; exit 1 ;;
esac
`.replace(/\\\$/g, "$");

export interface FakeHost {
  address: string;
  port: number;
  /** Scratch directory standing for the host's file system. */
  root: string;
  privateKey: string;
  /** "ssh-ed25519 AAAA..." of the server. */
  hostKey: string;
  /** TCP connections accepted so far. */
  connections(): number;
  /** Commands run so far. */
  commands(): string[];
  /** Runs a script on the "host" directly (a hand change). */
  sh(script: string): string;
  close(): Promise<void>;
}

/**
 * An ed25519 key pair ssh2 itself can read back: its generator drops a leading zero byte of the
 * public key about once in 256 keys, making a pair its own parser rejects (mscdex/ssh2#1390).
 */
function ed25519KeyPair(): { private: string; public: string } {
  for (;;) {
    const pair = utils.generateKeyPairSync("ed25519");
    if (!(utils.parseKey(pair.private) instanceof Error) && !(utils.parseKey(pair.public) instanceof Error)) return pair;
  }
}

export async function startFakeHost(): Promise<FakeHost> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "kop-drift-host-"));
  const bin = path.join(root, "bin");
  const units = path.join(root, "units");
  fs.mkdirSync(bin);
  fs.mkdirSync(units);
  fs.writeFileSync(path.join(bin, "systemctl"), FAKE_SYSTEMCTL, { mode: 0o755 });
  const hostKeys = ed25519KeyPair();
  const clientKeys = ed25519KeyPair();
  const allowed = utils.parseKey(clientKeys.public);
  if (allowed instanceof Error) throw allowed;
  let connections = 0;
  const commands: string[] = [];
  const env = { ...process.env, PATH: `${bin}:${process.env.PATH}`, FAKE_UNITS: units };
  const applied = path.join(root, "applied");

  const server = new Server({ hostKeys: [hostKeys.private] }, (client: Connection) => {
    connections += 1;
    client.on("authentication", (ctx) => {
      if (ctx.method === "publickey" && ctx.key.algo === allowed.type && ctx.key.data.equals(allowed.getPublicSSH())) {
        if (ctx.signature && ctx.blob && !allowed.verify(ctx.blob, ctx.signature, ctx.hashAlgo)) return ctx.reject();
        return ctx.accept();
      }
      ctx.reject(["publickey"]);
    });
    client.on("session", (accept) => {
      const session = accept();
      session.on("exec", (acceptExec, _reject, info) => {
        const channel = acceptExec();
        const command = info.command.split("/var/lib/kubeadm-on-pulumi/applied").join(applied);
        commands.push(command);
        const child = spawn("sh", ["-c", command], { env });
        channel.pipe(child.stdin);
        child.stdout.pipe(channel, { end: false });
        child.stderr.pipe(channel.stderr, { end: false });
        child.on("close", (code) => {
          channel.exit(code ?? 1);
          channel.end();
        });
      });
    });
    client.on("error", () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  const publicKey = utils.parseKey(hostKeys.public);
  if (publicKey instanceof Error) throw publicKey;
  return {
    address: "127.0.0.1",
    port,
    root,
    privateKey: clientKeys.private,
    hostKey: `ssh-ed25519 ${publicKey.getPublicSSH().toString("base64")}`,
    connections: () => connections,
    commands: () => [...commands],
    sh(script: string) {
      const { execFileSync } = require("node:child_process") as typeof import("node:child_process");
      return execFileSync("bash", ["-c", script.split("/var/lib/kubeadm-on-pulumi/applied").join(applied)], { env, encoding: "utf8" });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        fs.rmSync(root, { recursive: true, force: true });
      }),
  };
}

/** A port on 127.0.0.1 where nothing listens: connections are refused at once. */
export async function closedPort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}
