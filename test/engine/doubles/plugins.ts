/**
 * Puts the resource plugins into a test project's own PULUMI_HOME: the TEST DOUBLES of
 * `command` and `random` (serve.ts, at exactly the versions @pulumi/command and @pulumi/random
 * ask for, installed with `pulumi plugin install --file`), and real plugins that
 * install-pulumi.sh built (linked from the toolchain's plugin directory).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { pluginVersion, type PulumiProject, type Toolchain } from "../pulumi-cli";

const ROOT = path.resolve(__dirname, "../../..");

export async function installDoubles(project: PulumiProject): Promise<Record<string, string>> {
  const versions: Record<string, string> = {};
  const dir = path.join(project.dir, "doubles");
  fs.mkdirSync(dir, { recursive: true });
  for (const name of ["command", "random"]) {
    const version = pluginVersion(`@pulumi/${name}`);
    const wrapper = path.join(dir, `pulumi-resource-${name}`);
    fs.writeFileSync(
      wrapper,
      [
        "#!/bin/sh",
        `# TEST DOUBLE of the ${name} ${version} resource plugin (kubeadm-on-pulumi engine tier, docs/engine-tests.md).`,
        `KOP_DOUBLE_VERSION=${version} exec node --require ${require.resolve("tsx/cjs")} ${path.join(ROOT, "test/engine/doubles/serve.ts")} ${name} "$@"`,
        "",
      ].join("\n"),
      { mode: 0o755 },
    );
    await project.expect(["plugin", "install", "resource", name, version, "--file", wrapper]);
    versions[name] = version;
  }
  return versions;
}

/**
 * Links a plugin install-pulumi.sh built into the project's PULUMI_HOME: a directory of its own
 * (pulumi skips a plugin directory that is itself a symlink) holding links to the built files.
 */
export function linkRealPlugin(toolchain: Toolchain, project: PulumiProject, name: string): string {
  const version = pluginVersion(`@pulumi/${name}`);
  const dirName = `resource-${name}-v${version}`;
  const source = path.join(toolchain.pulumiHome, "plugins", dirName);
  if (!fs.existsSync(path.join(source, `pulumi-resource-${name}`))) throw new Error(`ENGINE TIER CANNOT RUN: the ${name} plugin ${version} is not in ${source} (scripts/install-pulumi.sh --only ${name})`);
  const target = path.join(project.pulumiHome, "plugins", dirName);
  fs.mkdirSync(target, { recursive: true });
  for (const file of fs.readdirSync(source)) fs.symlinkSync(path.join(source, file), path.join(target, file));
  return version;
}
