import { createHash } from "node:crypto";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

/**
 * Go programs the render tier checks files with, built from the Go module proxy once per input
 * and kept under /var/cache/kubeadm-on-pulumi/go-tools: a build is keyed by the release it is
 * built against, the Go version and a hash of its sources, module file and checksums, so a
 * changed input builds anew and an unchanged one is reused across runs. Builds run before the
 * tests (`npx tsx scripts/build-go-tools.ts` in .ci/run, and the unit project's globalSetup),
 * never inside a test body; every build shares the one Go build cache.
 */

const ROOT = path.join(__dirname, "..", "..");
export const GO_TOOLS_CACHE = process.env.KOP_GO_TOOLS_CACHE ?? "/var/cache/kubeadm-on-pulumi/go-tools";

export interface GoToolBuild {
  /** tools/<tool>: a module directory whose go.mod names the module. */
  tool: string;
  /** The release this build is for, e.g. the Kubernetes version "1.37.2". */
  release: string;
  /** Module file (relative to the tool directory) with its .sum beside it; the tool's go.mod when unset. */
  modfile?: string;
  /** Package to build, relative to the module ("." by default). */
  pkg?: string;
  tags?: string[];
  /** Extra -ldflags (e.g. version stamps). */
  ldflags?: string;
  /** Binary name (and cache directory) when one tool directory builds several programs; the tool's name by default. */
  name?: string;
  /** Build with cgo (runc's nsenter and seccomp are C); everything else is built without. */
  cgo?: boolean;
  /** -buildmode (runc's static PIE, as its Makefile builds the release binary). */
  buildmode?: string;
}

/**
 * Kubernetes releases the kubeadm configuration is validated against, with the kubeadm types of that
 * release: the newest patch of each minor from 1.35 on. The older minors (1.28 - 1.34) are checked
 * with 1.35's types, the oldest built: their kubeadm v1beta3/v1beta4 types are unchanged there, and
 * the kubelet and kube-proxy fields the renderer writes for them exist since 1.28. One build per
 * minor costs minutes cold (docs/toolchain.md), so older minors share one.
 */
export const KUBEADM_VALIDATE_RELEASES = ["1.35.4", "1.36.3", "1.37.2"] as const;

/** The kubeadm-validate build whose types a Kubernetes minor is checked with. */
export function kubeadmValidateRelease(minor: number): string {
  const exact = KUBEADM_VALIDATE_RELEASES.find((r) => Number(r.split(".")[1]) === minor);
  if (exact) return exact;
  if (minor < 35) return KUBEADM_VALIDATE_RELEASES[0];
  throw new Error(`no kubeadm-validate build for Kubernetes 1.${minor}: add its release to KUBEADM_VALIDATE_RELEASES`);
}

export function kubeadmValidateBuild(release: string): GoToolBuild {
  const minor = Number(release.split(".")[1]);
  // kubeadm 1.37 removed the v1beta3 API (tools/kubeadm-validate/v1beta3.go).
  return { tool: "kubeadm-validate", release, modfile: `versions/v${release}.mod`, tags: minor >= 37 ? ["kop_no_v1beta3"] : [] };
}

/** containerd 2 (`containerd config dump` loads each rendered version-3 config). */
export const CONTAINERD_RELEASE = "2.4.2";
export function containerdBuild(): GoToolBuild {
  return {
    tool: "containerd",
    release: CONTAINERD_RELEASE,
    pkg: "github.com/containerd/containerd/v2/cmd/containerd",
    ldflags: `-X github.com/containerd/containerd/v2/version.Version=v${CONTAINERD_RELEASE}`,
  };
}

/**
 * The other programs of containerd's release tarball (bin/ctr, bin/containerd-shim-runc-v2 and bin/containerd-stress beside
 * bin/containerd), for the hosts tier's release install (test/hosts/containerd-release.test.ts).
 */
export function containerdReleaseBuilds(): GoToolBuild[] {
  return ["ctr", "containerd-shim-runc-v2", "containerd-stress"].map((name) => ({ ...containerdBuild(), name, pkg: `github.com/containerd/containerd/v2/cmd/${name}` }));
}

/** runc as its release binary is built (Makefile `static`: cgo, seccomp, static PIE), without libpathrs (a Rust library). */
export const RUNC_RELEASE = "1.5.3";
export function runcBuild(): GoToolBuild {
  return {
    tool: "runc",
    release: RUNC_RELEASE,
    pkg: "github.com/opencontainers/runc",
    cgo: true,
    buildmode: "pie",
    tags: ["seccomp", "urfave_cli_no_docs", "netgo", "osusergo"],
    ldflags: "-linkmode external -extldflags -static-pie",
  };
}

export function allGoToolBuilds(): GoToolBuild[] {
  return [...KUBEADM_VALIDATE_RELEASES.map(kubeadmValidateBuild), containerdBuild(), ...containerdReleaseBuilds(), runcBuild()];
}

function goEnv(cgo = false): NodeJS.ProcessEnv {
  // No toolchain download and no VCS stamping: the module proxy is the only source.
  return { ...process.env, GOTOOLCHAIN: "local", GOFLAGS: "-buildvcs=false", CGO_ENABLED: cgo ? "1" : "0" };
}

let goVersionCache: string | undefined;
function goVersion(): string {
  if (goVersionCache) return goVersionCache;
  const r = spawnSync("go", ["env", "GOVERSION"], { encoding: "utf8", env: goEnv() });
  if (r.error || r.status !== 0) {
    throw new Error("go is not installed: run `apt-get install -y golang-go` or put Go 1.26 on PATH (scripts/install-test-deps.sh checks it)");
  }
  goVersionCache = r.stdout.trim();
  return goVersionCache;
}

const toolDir = (b: GoToolBuild) => path.join(ROOT, "tools", b.tool);
const modfilePath = (b: GoToolBuild) => path.join(toolDir(b), b.modfile ?? "go.mod");
const sumPath = (b: GoToolBuild) => modfilePath(b).replace(/\.mod$/, ".sum");

/** The cache path of a build: <cache>/<tool>/<release>-<go version>-<hash of every input>/<tool>. */
export function goToolPath(b: GoToolBuild): string {
  const hash = createHash("sha256");
  const dir = toolDir(b);
  for (const f of fs.readdirSync(dir).filter((f) => f.endsWith(".go")).sort()) hash.update(f).update(fs.readFileSync(path.join(dir, f)));
  for (const f of [modfilePath(b), sumPath(b)]) hash.update(fs.existsSync(f) ? fs.readFileSync(f) : "");
  hash.update(JSON.stringify({ pkg: b.pkg, tags: b.tags, ldflags: b.ldflags, cgo: b.cgo, buildmode: b.buildmode }));
  const key = `${b.release}-${goVersion()}-${hash.digest("hex").slice(0, 16)}`;
  const name = b.name ?? b.tool;
  return path.join(GO_TOOLS_CACHE, name, key, name);
}

/** The built binary; a missing build is an error that says how to make it. */
export function requireGoTool(b: GoToolBuild): string {
  const binary = goToolPath(b);
  if (!fs.existsSync(binary)) {
    throw new Error(
      `${b.tool} for ${b.release} is not built (${binary} is missing): run \`npx tsx scripts/build-go-tools.ts\` ` +
        "(.ci/run and the unit project's globalSetup do this)",
    );
  }
  return binary;
}

/** Builds one tool unless its cached binary exists; returns the binary and the seconds it took. */
export function buildGoTool(b: GoToolBuild): { binary: string; seconds: number; cached: boolean } {
  const binary = goToolPath(b);
  if (fs.existsSync(binary)) return { binary, seconds: 0, cached: true };
  const start = Date.now();
  const tmp = `${binary}.tmp-${process.pid}`;
  fs.mkdirSync(path.dirname(binary), { recursive: true });
  const args = ["build", "-trimpath", "-o", tmp];
  if (b.modfile) args.push("-modfile", b.modfile);
  if (b.buildmode) args.push(`-buildmode=${b.buildmode}`);
  if (b.tags?.length) args.push("-tags", b.tags.join(","));
  args.push("-ldflags", `-s -w${b.ldflags ? ` ${b.ldflags}` : ""}`);
  args.push(b.pkg ?? ".");
  const r = spawnSync("go", args, { cwd: toolDir(b), encoding: "utf8", env: goEnv(b.cgo), maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) {
    fs.rmSync(tmp, { force: true });
    throw new Error(
      `building ${b.name ?? b.tool} for ${b.release} failed (go ${args.join(" ")} in tools/${b.tool}):\n${(r.stderr || String(r.error ?? "")).trim()}`,
    );
  }
  fs.renameSync(tmp, binary);
  return { binary, seconds: (Date.now() - start) / 1000, cached: false };
}
