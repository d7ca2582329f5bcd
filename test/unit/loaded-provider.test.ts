/**
 * The drift resources' provider as the nodejs dynamic provider host loads it: `__provider` is a
 * few hundred bytes that require the provider's module from this checkout (item 9 of issue 16:
 * the serialized closure was about 50 KB, stored twice per resource).
 */
import { execFile } from "node:child_process";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { providerSource } from "../../components/drift/loaded-provider";

const ROOT = path.resolve(__dirname, "../..");
const REQUIRE_FROM_STRING = require.resolve("require-from-string", { paths: [path.dirname(require.resolve("@pulumi/pulumi"))] });

/** Loads provider texts in one fresh node process, as the host does, and lists each one's methods. */
function methodsOf(texts: string[], cwd: string): Promise<string[][]> {
  const program = `
    const load = require(${JSON.stringify(REQUIRE_FROM_STRING)});
    const methods = ${JSON.stringify(texts)}.map((t) => { const p = load(t).handler(); return Object.keys(p).filter((k) => typeof p[k] === "function").sort(); });
    console.log(JSON.stringify(methods));`;
  return new Promise((resolve, reject) =>
    execFile(process.execPath, ["-e", program], { cwd, timeout: 280_000 }, (err, out, errOut) => (err ? reject(new Error(`${err.message}\n${errOut}`)) : resolve(JSON.parse(out.trim().split("\n").pop()!)))),
  );
}
const FILES_METHODS = ["check", "create", "delete", "diff", "read", "update"];

describe("runtime-loaded dynamic providers", () => {
  const grouped = path.join(ROOT, "components/drift/grouped.ts");
  it("are under 1 KB of state text", () => {
    expect(providerSource(grouped, "managedFilesProvider", ROOT).length).toBeLessThan(1024);
  });

  // A fresh process loads @pulumi/pulumi and the modules (the provider host has the first loaded already): slow on a busy machine.
  it("load the TypeScript module in a plain node process, from any working directory", { timeout: 300_000 }, async () => {
    const texts = [providerSource(grouped, "managedFilesProvider", ROOT), providerSource(path.join(ROOT, "components/drift/etcd-members.ts"), "etcdMembersProvider", ROOT)];
    expect(await methodsOf(texts, os.tmpdir())).toEqual([FILES_METHODS, ["create", "delete", "diff", "read", "update"]]);
  });

  it("fall back to the module's path under the project directory when the checkout moved", { timeout: 300_000 }, async () => {
    const moved = providerSource("/nonexistent/checkout/components/drift/grouped.ts", "managedFilesProvider", "/nonexistent/checkout");
    expect(await methodsOf([moved], ROOT)).toEqual([FILES_METHODS]);
  });
});
