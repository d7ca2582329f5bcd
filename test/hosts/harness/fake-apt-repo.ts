/**
 * A local, signed apt repository laid out like the real per-minor Kubernetes
 * package repository, served over HTTP on the test bridge's machine-side
 * address so the test hosts can reach it (the real one cannot be reached).
 *
 *   repo.baseUrl                = http://10.213.0.1:PORT/core:/stable:
 *   `${repo.baseUrl}/v1.29/deb/` = a flat repository ("deb [signed-by=KEYRING] URL /")
 *   `${repo.baseUrl}/v1.29/deb/Release.key` = its ASCII-armoured signing key
 *
 * The packages (kubeadm, kubelet, kubectl, cri-tools, kubernetes-cni) are small
 * stand-ins built by fake-apt-repo.sh (see that script for what they do), or, for the
 * versions given in `artifacts`, real packages holding binaries built from Go modules.
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);
const HERE = __dirname;

export interface FakeAptRepoOptions {
  /** Address to listen on; default the test bridge's machine side (10.213.0.1, or KOP_HOSTS_PREFIX.1). */
  address?: string;
  /** TCP port; default 0 (any free port). */
  port?: number;
  /** Kubernetes versions to publish as VERSION-1.1; default 1.29.13, 1.29.14 and 1.30.10. */
  versions?: string[];
  /** Where to build; default a fresh directory under /tmp, removed by stop(). */
  dir?: string;
  /** Real packages for these versions: "1.34.4" -> the directory scripts/build-k8s-artifacts.sh printed. */
  artifacts?: Record<string, string>;
}

export interface FakeAptRequest {
  method: string;
  path: string;
  status: number;
  from: string;
}

export interface FakeAptRepo {
  /** Like https://pkgs.k8s.io/core:/stable: — append /v1.29/deb/ for a minor's repository. */
  baseUrl: string;
  address: string;
  port: number;
  versions: string[];
  /** Directory served (contains core:/stable:/vX.Y/deb/). */
  root: string;
  /** `${baseUrl}/v${minor}/deb/` */
  repoUrl(minor: string): string;
  /** `${baseUrl}/v${minor}/deb/Release.key` */
  keyUrl(minor: string): string;
  /** The apt source line, as the real repository documents it. */
  sourcesLine(minor: string, keyring: string): string;
  /** Every request served so far. */
  requests: FakeAptRequest[];
  stop(): Promise<void>;
}

const DEFAULT_VERSIONS = ["1.29.13", "1.29.14", "1.30.10"];

export async function buildFakeAptRepo(dir: string, versions: string[] = DEFAULT_VERSIONS, artifacts: Record<string, string> = {}): Promise<string> {
  const real = Object.entries(artifacts).map(([v, d]) => `${v}=${d}`).join(" ");
  const { stdout } = await execFileAsync("bash", [path.join(HERE, "fake-apt-repo.sh"), dir, ...versions], {
    maxBuffer: 16 * 1024 * 1024,
    env: { ...process.env, KOP_K8S_ARTIFACTS: real },
  }).catch((e: { stderr?: string; message: string }) => {
    throw new Error(`fake-apt-repo.sh failed: ${e.message}\n${e.stderr ?? ""}`);
  });
  const lines = stdout.trim().split("\n");
  return lines[lines.length - 1];
}

export async function startFakeAptRepo(opts: FakeAptRepoOptions = {}): Promise<FakeAptRepo> {
  const address = opts.address ?? `${process.env.KOP_HOSTS_PREFIX ?? "10.213.0"}.1`;
  const versions = opts.versions ?? DEFAULT_VERSIONS;
  const ownDir = opts.dir === undefined;
  const dir = opts.dir ?? fs.mkdtempSync("/tmp/kop-fake-apt-");
  const root = await buildFakeAptRepo(dir, versions, opts.artifacts);
  const rootReal = fs.realpathSync(root);
  const requests: FakeAptRequest[] = [];

  const server = http.createServer((req, res) => {
    const record = (status: number) =>
      requests.push({ method: req.method ?? "", path: req.url ?? "", status, from: req.socket.remoteAddress ?? "" });
    let rel: string;
    try {
      rel = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    } catch {
      record(400);
      res.writeHead(400).end();
      return;
    }
    const file = path.resolve(rootReal, `.${rel}`);
    if ((req.method !== "GET" && req.method !== "HEAD") || (file !== rootReal && !file.startsWith(rootReal + path.sep))) {
      record(403);
      res.writeHead(403).end();
      return;
    }
    fs.stat(file, (err, st) => {
      if (err || !st.isFile()) {
        record(404);
        res.writeHead(404, { "Content-Type": "text/plain" }).end("not found\n");
        return;
      }
      record(200);
      res.writeHead(200, {
        "Content-Length": st.size,
        "Last-Modified": st.mtime.toUTCString(),
        "Content-Type": file.endsWith(".deb") ? "application/vnd.debian.binary-package" : "application/octet-stream",
      });
      if (req.method === "HEAD") {
        res.end();
        return;
      }
      fs.createReadStream(file).pipe(res);
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", (e: NodeJS.ErrnoException) => {
      reject(
        new Error(
          e.code === "EADDRNOTAVAIL"
            ? `fake apt repository: ${address} is not an address of this machine; start the test hosts (startTestHosts) first, it creates the bridge`
            : `fake apt repository: cannot listen on ${address}:${opts.port ?? 0}: ${e.message}`,
        ),
      );
    });
    server.listen(opts.port ?? 0, address, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const baseUrl = `http://${address}:${port}/core:/stable:`;
  server.unref();

  let stopped = false;
  return {
    baseUrl,
    address,
    port,
    versions,
    root,
    requests,
    repoUrl: (minor) => `${baseUrl}/v${minor}/deb/`,
    keyUrl: (minor) => `${baseUrl}/v${minor}/deb/Release.key`,
    sourcesLine: (minor, keyring) => `deb [signed-by=${keyring}] ${baseUrl}/v${minor}/deb/ /`,
    async stop() {
      if (stopped) return;
      stopped = true;
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (ownDir) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
