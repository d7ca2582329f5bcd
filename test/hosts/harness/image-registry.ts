/**
 * A real image registry (Debian's docker-registry: the distribution project's registry) on the
 * test bridge's machine-side address, holding the images scripts/build-k8s-artifacts.sh built.
 * Every image sits under its upstream name, so one registry mirrors them all:
 *
 *   registry.k8s.io/kube-apiserver:v1.34.4  ->  10.213.0.1:PORT/registry.k8s.io/kube-apiserver:v1.34.4
 *   ghcr.io/flannel-io/flannel:v0.28.4      ->  10.213.0.1:PORT/ghcr.io/flannel-io/flannel:v0.28.4
 *
 * A test stack reaches it only through the program's own keys: cluster:mirrors.imageRepository
 * (mirrorOf("registry.k8s.io")), cluster:mirrors.addonImageRegistries and, since it speaks plain
 * HTTP, cluster:mirrors.insecureRegistries. Its storage is cached beside the artifacts: an
 * artifact directory's images are copied in once (skopeo) and served from then on.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

export interface ImageRegistryOptions {
  /** Artifact directories (scripts/build-k8s-artifacts.sh output) whose images.tsv is served. */
  artifacts: string[];
  /** Default the test bridge's machine side (10.213.0.1, or KOP_HOSTS_PREFIX.1). */
  address?: string;
  /** Default a free port on the address: tiers running side by side each have their own registry. */
  port?: number;
  /** Registry storage; default /var/cache/kubeadm-on-pulumi/k8s/registry. */
  storage?: string;
}

export interface ImageRegistry {
  /** "10.213.0.1:PORT" */
  host: string;
  /** Where an upstream registry's images are: mirrorOf("ghcr.io") = "10.213.0.1:PORT/ghcr.io". */
  mirrorOf(upstream: string): string;
  stop(): Promise<void>;
}

/** A port nothing listens on at `address` now (the registry binds it a moment later). */
function freePort(address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, address, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function answers(url: string): Promise<boolean> {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(2000) });
    return r.status === 200;
  } catch {
    return false;
  }
}

export async function startImageRegistry(opts: ImageRegistryOptions): Promise<ImageRegistry> {
  const address = opts.address ?? `${process.env.KOP_HOSTS_PREFIX ?? "10.213.0"}.1`;
  const port = opts.port ?? (await freePort(address));
  const host = `${address}:${port}`;
  const storage = opts.storage ?? "/var/cache/kubeadm-on-pulumi/k8s/registry";
  for (const cmd of ["/usr/bin/docker-registry", "/usr/bin/skopeo"]) {
    if (!fs.existsSync(cmd)) throw new Error(`image registry: ${cmd} is missing (Debian packages docker-registry and skopeo; bash scripts/install-test-deps.sh installs them)`);
  }
  if (await answers(`http://${host}/v2/`)) throw new Error(`image registry: something already answers on ${host}; stop it or pass another port`);
  fs.mkdirSync(storage, { recursive: true });
  // This registry's own config and log; the storage is shared by every registry on the machine.
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), "kop-registry-"));
  const logPath = path.join(runDir, "registry.log");
  const config = path.join(runDir, "config.yml");
  fs.writeFileSync(
    config,
    [
      "version: 0.1",
      "log: { level: warn }",
      "storage:",
      `  filesystem: { rootdirectory: ${path.join(storage, "data")} }`,
      "  delete: { enabled: false }",
      `http: { addr: "${host}" }`,
      "",
    ].join("\n"),
  );
  const log = fs.openSync(logPath, "a");
  const child: ChildProcess = spawn("/usr/bin/docker-registry", ["serve", config], { stdio: ["ignore", log, log] });
  fs.closeSync(log);
  let exited: string | undefined;
  child.on("exit", (code, signal) => (exited = `exited (${code ?? signal})`));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      await new Promise((resolve) => child.once("exit", resolve));
    }
    fs.rmSync(runDir, { recursive: true, force: true });
  };
  try {
    const deadline = Date.now() + 30_000;
    while (!(await answers(`http://${host}/v2/`))) {
      if (exited || Date.now() > deadline) {
        throw new Error(`image registry on ${host} ${exited ?? "did not answer in 30 s"}:\n${fs.readFileSync(logPath, "utf8").slice(-4000)}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    for (const dir of opts.artifacts) {
      const marker = path.join(storage, `pushed-${path.basename(dir)}`);
      if (fs.existsSync(marker)) continue;
      const lines = fs.readFileSync(path.join(dir, "images.tsv"), "utf8").trim().split("\n");
      for (const line of lines) {
        const [ref, layout] = line.split(" ");
        const tag = ref.slice(ref.lastIndexOf(":") + 1);
        await execFileAsync("skopeo", ["copy", "--quiet", "--insecure-policy", "--dest-tls-verify=false", `oci:${layout}:${tag}`, `docker://${host}/${ref}`]).catch(
          (e: { stderr?: string; message: string }) => {
            throw new Error(`image registry: copying ${ref} into ${host} failed: ${e.message}\n${e.stderr ?? ""}`);
          },
        );
      }
      fs.writeFileSync(marker, lines.map((l) => l.split(" ")[0]).join("\n") + "\n");
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return { host, mirrorOf: (upstream) => `${host}/${upstream}`, stop };
}
