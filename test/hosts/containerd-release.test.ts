/**
 * Hosts tier for containerd 2 from the release files (cluster:runtime.containerd.source "release",
 * the default from Kubernetes 1.36) on a Debian 13 host: the program's runtime-install and
 * runtime-config steps, sent as the exact command strings the engine sends (applyStep), download
 * containerd and runc from a release mirror on the test bridge (cluster:mirrors.releases.containerd
 * and .runc), check them against the published checksums, install them under /usr/local with
 * upstream's unit, and start containerd 2 with the program's version-3 config. The second run
 * changes nothing; the deletes leave the whole host as it was (hostFingerprintScript).
 *
 * Stand-ins, and how they differ from upstream's release files (docs/kubernetes-versions.md):
 * - containerd-2.4.2-linux-amd64.tar.gz holds bin/containerd, bin/containerd-shim-runc-v2, bin/ctr
 *   and bin/containerd-stress, the four programs and the layout of upstream's tarball, built here
 *   from github.com/containerd/containerd/v2 v2.4.2 (scripts/lib/go-tools.ts) without cgo: so without
 *   the btrfs snapshotter (cgo) that upstream's dynamically linked build has, and stamped with the
 *   version but no git revision. Its .sha256sum is written here in upstream's format.
 * - runc.amd64 is runc 1.5.3 from github.com/opencontainers/runc, built like upstream's release
 *   binary (cgo, seccomp, static PIE) but without libpathrs (a Rust library not at hand); runc then
 *   uses its Go path-resolution fallback. runc.sha256sum lists only amd64 (upstream lists every arch).
 * - No OS preparation step runs first (modules, sysctls, cgroup preflight): containerd does not need
 *   them to start and serve its API, and node.test.ts covers that chain.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse as parseToml } from "smol-toml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { modelFromObject } from "../../components/config";
import { planCluster } from "../../components/plan";
import type { StepSpec } from "../../components/remote/step";
import { runtimeConfigId, runtimeInstallId } from "../../components/runtime/plan";
import { CONTAINERD_RELEASE, RUNC_RELEASE } from "../../scripts/lib/go-tools";
import { criSettings } from "../support/containerd-config";
import { requireRoot, startTestHosts, type TestHosts } from "./harness";
import { serveDirectory, type FileServer } from "./harness/file-server";
import { buildReleaseMirror } from "./harness/release-mirror";
import { fingerprintDiff, hostFingerprintScript } from "./fingerprint";
import { applyStep, execStep, fingerprintScript, shellOn } from "./steps";

const HOST = "ctrd1";
const CRI_INFO_SRC = path.join(__dirname, "..", "..", "tools", "cri-info");
const SANDBOX = "registry.example.test/mirror/pause:3.10.2";

describe(`hosts, containerd ${CONTAINERD_RELEASE} and runc ${RUNC_RELEASE} from the release files on a real Debian 13 host`, () => {
  const TAMPERED = "2.4.1";
  let env: TestHosts;
  let mirror: FileServer;
  let steps: StepSpec[];
  let pristine: string;
  const sh = (script: string) => shellOn(env, HOST)(script);
  const stepsFor = (containerdVersion: string) => {
    const model = modelFromObject(
      {
        kubernetes: { version: "1.37.2" },
        runtime: { containerd: { version: containerdVersion } },
        mirrors: {
          sandboxImage: SANDBOX,
          registryMirrors: { "docker.io": ["https://hub-mirror.example.test"] },
          releases: { containerd: `${mirror.url}/containerd/`, runc: `${mirror.url}/runc` },
        },
        hosts: [{ name: HOST, address: env.hosts[0].address, roles: ["control-plane"] }],
      },
      "containerd-release",
    );
    expect(model.runtime.containerd).toMatchObject({ source: "release", configVersion: 3 });
    const ids = [runtimeInstallId(HOST), runtimeConfigId(HOST)];
    return ids.map((id) => planCluster(model).steps.find((s) => s.id === id)!);
  };
  /**
   * The whole-host fingerprint against the pristine one. The runtime steps record their state under
   * /var/lib/kubeadm-on-pulumi, which OS preparation makes first and removes last in a real plan
   * (components/host/prep.ts deletes its empty directories); without that step here, the emptied
   * directories are all that may stay.
   */
  const expectPristine = async () => {
    expect(await sh("find /var/lib/kubeadm-on-pulumi -mindepth 1 -not -type d 2>/dev/null | wc -l")).toBe("0");
    const stateDirs = ["+ path /var/lib/kubeadm-on-pulumi d 755 root:root", "+ path /var/lib/kubeadm-on-pulumi/dirs d 755 root:root"];
    expect(fingerprintDiff(pristine, await sh(hostFingerprintScript())).filter((l) => !stateDirs.includes(l))).toEqual([]);
  };
  const stepFingerprint = async () => {
    const paths = [...new Set(steps.flatMap((s) => s.files.map((f) => f.path))), "/usr/local/bin/containerd", "/usr/local/sbin/runc"];
    const r = await env.run(HOST, fingerprintScript(paths, ["containerd"], ["/usr/local/bin", "/etc/containerd", "/etc/containerd/certs.d", "/var/lib/kubeadm-on-pulumi"]));
    expect(r.code, r.stderr).toBe(0);
    return r.stdout;
  };

  beforeAll(async () => {
    requireRoot();
    const root = buildReleaseMirror({ tampered: TAMPERED });
    env = await startTestHosts([HOST], { suite: "trixie" });
    mirror = await serveDirectory(root, env.gateway);
    steps = stepsFor(CONTAINERD_RELEASE);
    // The CRI client the checks use (a minimal `crictl info`), built from tools/cri-info.
    const binary = path.join(fs.mkdtempSync("/tmp/kop-cri-info-"), "cri-info");
    execFileSync("go", ["build", "-trimpath", "-o", binary, "."], { cwd: CRI_INFO_SRC, env: { ...process.env, CGO_ENABLED: "0" }, stdio: "inherit" });
    await env.copy(HOST, binary, "/root/cri-info");
    fs.rmSync(path.dirname(binary), { recursive: true, force: true });
    pristine = await sh(hostFingerprintScript());
  });

  afterAll(async () => {
    await mirror?.stop();
    await env?.teardown();
  });

  it("refuses a tarball whose checksum does not match its .sha256sum; its delete cleans up", async () => {
    const [install] = stepsFor(TAMPERED);
    const r = await execStep(env, install);
    expect(r.code).not.toBe(0);
    expect(r.stderr + r.stdout).toContain(`checksum mismatch for ${mirror.url}/containerd/v${TAMPERED}/containerd-${TAMPERED}-linux-amd64.tar.gz`);
    expect(await sh("test -e /usr/local/bin/containerd && echo present || echo absent")).toBe("absent");
    await applyStep(env, install, { which: "delete" });
    await expectPristine();
  });

  it("installs both from the mirror and runs containerd 2 with the program's version-3 config", async () => {
    const started = Date.now();
    for (const step of steps) await applyStep(env, step);
    console.log(`containerd release install + config: ${Date.now() - started} ms`);
    const base = `/containerd/v${CONTAINERD_RELEASE}/containerd-${CONTAINERD_RELEASE}-linux-amd64.tar.gz`;
    expect(mirror.requests).toEqual(expect.arrayContaining([base, `${base}.sha256sum`, `/runc/v${RUNC_RELEASE}/runc.amd64`, `/runc/v${RUNC_RELEASE}/runc.sha256sum`]));
    expect(await sh("ls /usr/local/bin")).toBe(["containerd", "containerd-shim-runc-v2", "containerd-stress", "ctr"].join("\n"));
    expect(await sh("runc --version | head -1; command -v runc")).toBe(`runc version ${RUNC_RELEASE}\n/usr/local/sbin/runc`);
    expect(await sh("systemctl is-active containerd; systemctl is-enabled containerd; systemctl show -p FragmentPath --value containerd")).toBe(
      "active\nenabled\n/etc/systemd/system/containerd.service",
    );
    // The daemon that answers is the release build.
    expect(await sh("ctr version")).toMatch(new RegExp(`Server:\\s+Version:\\s+v${CONTAINERD_RELEASE.replace(/\./g, "\\.")}`));
    // What it loaded from /etc/containerd/config.toml (schema 3, migrated in memory by 2.4).
    const rendered = parseToml(await sh("cat /etc/containerd/config.toml")) as { version: number };
    expect(rendered.version).toBe(3);
    const dumped = parseToml(await sh("containerd config dump"));
    expect(criSettings(dumped)).toEqual({ sandbox: SANDBOX, systemdCgroup: true, configPath: "/etc/containerd/certs.d" });
    // And what its CRI runtime reports (like `crictl info`; containerd 2 reports the runtime
    // plugin's config there, the images plugin's registry and sandbox settings are in the dump above).
    const info = JSON.parse(await sh("/root/cri-info"));
    expect(info.status.conditions.find((c: { type: string }) => c.type === "RuntimeReady").status).toBe(true);
    expect(info.config.containerd.runtimes.runc.options.SystemdCgroup).toBe(true);
    expect(await sh("cat /etc/containerd/certs.d/docker.io/hosts.toml")).toContain('[host."https://hub-mirror.example.test"]');
    expect(await sh("journalctl -u containerd --no-pager -o cat | grep -c 'level=fatal' || true")).toBe("0");
  });

  it("second run downloads nothing and changes nothing", async () => {
    const before = await stepFingerprint();
    const pid = await sh("systemctl show -p MainPID --value containerd");
    const requests = mirror.requests.length;
    for (const step of steps) await applyStep(env, step);
    expect(await stepFingerprint()).toBe(before);
    expect(mirror.requests.length).toBe(requests);
    expect(await sh("systemctl show -p MainPID --value containerd")).toBe(pid);
  });

  it("delete scripts, in reverse order, leave the host as it was", async () => {
    for (const step of [...steps].reverse()) await applyStep(env, step, { which: "delete" });
    expect(await sh("test -e /usr/local/bin/containerd || test -e /usr/local/sbin/runc && echo left || echo gone")).toBe("gone");
    await expectPristine();
  });
});
