/**
 * Engine tier: `pulumi preview` of the example stacks as a user runs it first (`npm run preview --
 * prod`), with no SSH key anywhere, through the real CLI, language host and kubernetes plugin.
 * A preview connects to no host: it must print the plan. `pulumi up` must refuse before it
 * creates anything, naming the keys to set.
 *
 * TEST DOUBLES (docs/engine-tests.md): the `command` and `random` plugins cannot be built here;
 * test/engine/doubles serves them. A preview only asks them to check inputs.
 *
 *   npx vitest run --project engine test/engine/preview-engine.test.ts
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { installDoubles, linkRealPlugin } from "./doubles/plugins";
import { ensureToolchain, PulumiProject } from "./pulumi-cli";

const ROOT = path.resolve(__dirname, "../..");
const STACKS = ["prod", "china"];

describe("engine: the example stacks preview with no SSH key; up refuses without one", () => {
  let project: PulumiProject;

  beforeAll(async () => {
    const toolchain = await ensureToolchain(["kubernetes"]);
    project = new PulumiProject(toolchain, { name: "kubeadm-on-pulumi", program: path.join(ROOT, "index.ts") });
    await project.expect(["login", project.backend]);
    for (const stack of STACKS) {
      // The stack file exactly as the user has it in stacks/ (the project's stackConfigDir).
      fs.copyFileSync(path.join(ROOT, "stacks", `Pulumi.${stack}.yaml`), path.join(project.dir, `Pulumi.${stack}.yaml`));
      await project.expect(["stack", "init", stack, "--secrets-provider", "passphrase"]);
    }
    await installDoubles(project);
    linkRealPlugin(toolchain, project, "kubernetes");
  }, 3_600_000);

  afterAll(() => project?.remove());

  for (const stack of STACKS) {
    it(`${stack}: preview prints the plan, every host's steps, and asks for no key`, async () => {
      const file = fs.readFileSync(path.join(project.dir, `Pulumi.${stack}.yaml`), "utf8");
      expect(file).not.toMatch(/sshPrivateKey|privateKeyPath/);
      const hosts = (parse(file) as { config: { "cluster:hosts": Array<{ name: string }> } }).config["cluster:hosts"].map((h) => h.name);
      const preview = await project.expect(["preview", "--stack", stack, "--json"]);
      const steps = (JSON.parse(preview.stdout) as { steps: Array<{ op: string; urn: string }> }).steps;
      const creates = steps.filter((s) => s.op === "create").map((s) => s.urn.split("::").pop()!);
      expect(steps.every((s) => s.op === "create"), steps.filter((s) => s.op !== "create").map((s) => `${s.op} ${s.urn}`).join("\n")).toBe(true);
      // The first control plane's init and every host's preparation are in the plan.
      expect(hosts.length).toBeGreaterThan(2);
      expect(creates.filter((n) => n.endsWith("/kubeadm-init"))).toHaveLength(1);
      for (const host of hosts) expect(creates.some((n) => n.startsWith(`${host}/`)), `steps of ${host}`).toBe(true);
      expect(preview.stderr).not.toMatch(/error/i);
      console.log(`[engine] ${stack}: preview of ${creates.length} resources to create`);
    });
  }

  it("prod: up refuses before it creates anything, naming the keys to set", async () => {
    const up = await project.run(["up", "--stack", "prod", "--yes", "--skip-preview"]);
    expect(up.code).not.toBe(0);
    expect(up.stdout + up.stderr).toContain("no SSH key: set cluster:sshPrivateKey (secret), cluster:ssh.privateKeyPath or this key");
    const exported = JSON.parse((await project.expect(["stack", "export", "--stack", "prod"])).stdout) as { deployment: { resources?: Array<{ type: string }> } };
    // Nothing but the stack itself (and the default providers the engine may have registered).
    const created = (exported.deployment.resources ?? []).filter((r) => r.type !== "pulumi:pulumi:Stack" && !r.type.startsWith("pulumi:providers:"));
    expect(created.map((r) => r.type)).toEqual([]);
  });
});
