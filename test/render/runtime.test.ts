import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse as parseToml } from "smol-toml";
import { describe, expect, it } from "vitest";
import { loadStackFile } from "../../components/config";
import { registryHostsFiles, renderContainerdConfig } from "../../components/runtime/containerd";
import { model, devSection } from "../unit/fixtures";
import { requireTool, run } from "../support/tools";

describe("containerd config is accepted by a real containerd", () => {
  const containerd = requireTool("containerd", "containerd");

  for (const stack of ["dev", "prod", "china"]) {
    it(`stack ${stack}: config dump shows systemd cgroups, the sandbox image and the hosts directory`, () => {
      const m = loadStackFile(stack);
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kop-containerd-"));
      const file = path.join(dir, "config.toml");
      fs.writeFileSync(file, renderContainerdConfig(m));
      const dump = run(containerd, ["--config", file, "config", "dump"]);
      expect(dump.stderr).not.toMatch(/level=(error|fatal)/);
      expect(dump.code).toBe(0);
      const merged = parseToml(dump.stdout) as any;
      const cri = merged.plugins["io.containerd.grpc.v1.cri"];
      expect(cri.sandbox_image).toBe(m.mirrors.sandboxImage);
      expect(cri.containerd.runtimes.runc.options.SystemdCgroup).toBe(true);
      expect(cri.registry.config_path).toBe("/etc/containerd/certs.d");
      fs.rmSync(dir, { recursive: true, force: true });
    });
  }

  it("runtime.containerd.restrictOomScoreAdj reaches the CRI plugin (hosts that are containers)", () => {
    const section = devSection();
    section.runtime = { containerd: { restrictOomScoreAdj: true } };
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kop-containerd-"));
    const file = path.join(dir, "config.toml");
    fs.writeFileSync(file, renderContainerdConfig(model(section)));
    const dump = run(containerd, ["--config", file, "config", "dump"]);
    expect(dump.code, dump.stderr).toBe(0);
    expect((parseToml(dump.stdout) as any).plugins["io.containerd.grpc.v1.cri"].restrict_oom_score_adj).toBe(true);
    expect(renderContainerdConfig(model(devSection()))).not.toContain("restrict_oom_score_adj");
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
