import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse as parseToml } from "smol-toml";
import { describe, expect, it } from "vitest";
import { loadStackFile } from "../../components/config";
import { registryHostsFiles, renderContainerdConfig } from "../../components/runtime/containerd";
import { model, devSection } from "../unit/fixtures";
import { CONTAINERD_RELEASE, containerdBuild, requireGoTool } from "../../scripts/lib/go-tools";
import { criSettings } from "../support/containerd-config";
import { requireTool, run } from "../support/tools";

function dump(binary: string, config: string): any {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kop-containerd-"));
  const file = path.join(dir, "config.toml");
  fs.writeFileSync(file, config);
  const result = run(binary, ["--config", file, "config", "dump"]);
  fs.rmSync(dir, { recursive: true, force: true });
  expect(result.stderr).not.toMatch(/level=(error|fatal)/);
  expect(result.code).toBe(0);
  return parseToml(result.stdout);
}

describe("containerd config is accepted by a real containerd", () => {
  // containerd 1.6 from Debian for the version-2 schema; containerd 2 built from its Go modules
  // (scripts/lib/go-tools.ts, built in the unit project's globalSetup) for version 3, and for
  // version 2 too, which containerd 2 still reads (docker-ce without a pin renders it).
  const containerd1 = requireTool("containerd", "containerd");
  const containerd2 = requireGoTool(containerdBuild());

  for (const stack of ["dev", "prod", "china"]) {
    it(`stack ${stack}: config dump shows systemd cgroups, the sandbox image and the hosts directory`, () => {
      const m = loadStackFile(stack);
      const binaries = m.runtime.containerd.configVersion === 3 ? [containerd2] : [containerd1, containerd2];
      for (const binary of binaries) {
        const merged = dump(binary, renderContainerdConfig(m));
        // containerd 2.4 migrates schemas 2 and 3 to its own 4 on load (a warning, not an error).
        expect(merged.version).toBe(binary === containerd2 ? 4 : 2);
        expect(criSettings(merged)).toEqual({ sandbox: m.mirrors.sandboxImage, systemdCgroup: true, configPath: "/etc/containerd/certs.d" });
      }
    });
  }

  it("containerd 2 reports the release it was built from", () => {
    expect(run(containerd2, ["--version"]).stdout).toContain(`v${CONTAINERD_RELEASE}`);
  });

  it("schema 3 for containerd 2 (release files, a 2.x containerd.io pin), 2 otherwise; containerd 1 does not understand schema 3", () => {
    const at = (containerd: Record<string, unknown>) => {
      const section = devSection();
      Object.assign(section, { kubernetes: { version: "1.37.2" }, runtime: { containerd }, mirrors: { imageRepository: "registry.example.com/k8s" } });
      return model(section);
    };
    const v3 = renderContainerdConfig(at({ source: "docker-ce", packageVersion: "2.2.1-1~debian.12~bookworm" }));
    expect(parseToml(v3)).toMatchObject({ version: 3 });
    expect(criSettings(dump(containerd2, v3)).sandbox).toBe("registry.example.com/k8s/pause:3.10.2");
    expect(parseToml(renderContainerdConfig(at({ source: "docker-ce" })))).toMatchObject({ version: 2 });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kop-containerd-"));
    fs.writeFileSync(path.join(dir, "config.toml"), v3);
    // containerd 1.6 loads a schema-3 file without an error but ignores its settings: the sandbox
    // image stays its built-in default. Hence schema 3 only where containerd 2 is certain.
    const old = run(containerd1, ["--config", path.join(dir, "config.toml"), "config", "dump"]);
    expect(old.code).toBe(0);
    expect(criSettings(parseToml(old.stdout)).sandbox).not.toBe("registry.example.com/k8s/pause:3.10.2");
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("runtime.containerd.restrictOomScoreAdj reaches the CRI plugin (hosts that are containers)", () => {
    const section = devSection();
    section.runtime = { containerd: { restrictOomScoreAdj: true } };
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kop-containerd-"));
    const file = path.join(dir, "config.toml");
    fs.writeFileSync(file, renderContainerdConfig(model(section)));
    const dumped = run(containerd1, ["--config", file, "config", "dump"]);
    expect(dumped.code, dumped.stderr).toBe(0);
    expect((parseToml(dumped.stdout) as any).plugins["io.containerd.grpc.v1.cri"].restrict_oom_score_adj).toBe(true);
    expect(renderContainerdConfig(model(devSection()))).not.toContain("restrict_oom_score_adj");
    // containerd 2 (schema 3): the setting belongs to the CRI runtime plugin.
    Object.assign(section, { kubernetes: { version: "1.37.2" }, runtime: { containerd: { source: "release", restrictOomScoreAdj: true } } });
    const v3 = dump(containerd2, renderContainerdConfig(model(section))) as any;
    expect(v3.plugins["io.containerd.cri.v1.runtime"].restrict_oom_score_adj).toBe(true);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("registry hosts files parse as TOML with mirrors first and insecure registries unverified", () => {
    const section = devSection();
    section.mirrors = {
      registryMirrors: { "docker.io": ["https://m1.example.com", "https://m2.example.com"] },
      insecureRegistries: ["reg.internal:5000"],
    };
    const files = registryHostsFiles(model(section));
    expect(files.map((f) => f.path)).toEqual([
      "/etc/containerd/certs.d/docker.io/hosts.toml",
      "/etc/containerd/certs.d/reg.internal:5000/hosts.toml",
    ]);
    const hub = parseToml(files[0].content) as any;
    expect(hub.server).toBe("https://registry-1.docker.io");
    expect(Object.keys(hub.host)).toEqual(["https://m1.example.com", "https://m2.example.com"]);
    const insecure = parseToml(files[1].content) as any;
    expect(insecure.server).toBe("http://reg.internal:5000");
    expect(insecure.host["http://reg.internal:5000"].skip_verify).toBe(true);
  });
});
