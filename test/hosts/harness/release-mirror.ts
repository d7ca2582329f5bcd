import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CONTAINERD_RELEASE, containerdBuild, containerdReleaseBuilds, requireGoTool, RUNC_RELEASE, runcBuild } from "../../../scripts/lib/go-tools";

const sha256 = (file: string) => createHash("sha256").update(fs.readFileSync(file)).digest("hex");

/**
 * A directory in the layout of containerd's and runc's release downloads, for a file server that
 * stands in for cluster:mirrors.releases.containerd and .runc:
 * <root>/containerd/v<version>/containerd-<version>-linux-amd64.tar.gz (+ .sha256sum) and
 * <root>/runc/v<version>/runc.amd64 (+ runc.sha256sum), from the Go builds (scripts/lib/go-tools.ts;
 * how they differ from upstream's files: docs/kubernetes-versions.md). A `tampered` containerd
 * version is listed with a checksum that does not match its tarball.
 */
export function buildReleaseMirror(opts: { tampered?: string } = {}): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "kop-containerd-mirror-"));
  const stage = path.join(root, "stage");
  fs.mkdirSync(path.join(stage, "bin"), { recursive: true });
  for (const build of [containerdBuild(), ...containerdReleaseBuilds()]) {
    const target = path.join(stage, "bin", build.name ?? build.tool);
    fs.copyFileSync(requireGoTool(build), target);
    fs.chmodSync(target, 0o755);
  }
  for (const version of [CONTAINERD_RELEASE, ...(opts.tampered ? [opts.tampered] : [])]) {
    const dir = path.join(root, "containerd", `v${version}`);
    const file = `containerd-${version}-linux-amd64.tar.gz`;
    fs.mkdirSync(dir, { recursive: true });
    execFileSync("tar", ["--owner=0", "--group=0", "-czf", path.join(dir, file), "-C", stage, "bin"]);
    const sum = version === opts.tampered ? "0".repeat(64) : sha256(path.join(dir, file));
    fs.writeFileSync(path.join(dir, `${file}.sha256sum`), `${sum}  ${file}\n`);
  }
  fs.rmSync(stage, { recursive: true });
  const runcDir = path.join(root, "runc", `v${RUNC_RELEASE}`);
  fs.mkdirSync(runcDir, { recursive: true });
  fs.copyFileSync(requireGoTool(runcBuild()), path.join(runcDir, "runc.amd64"));
  fs.writeFileSync(path.join(runcDir, "runc.sha256sum"), `${sha256(path.join(runcDir, "runc.amd64"))}  runc.amd64\n`);
  return root;
}
