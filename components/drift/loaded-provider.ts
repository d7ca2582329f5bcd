import * as pulumi from "@pulumi/pulumi";
import * as path from "node:path";

/**
 * A dynamic resource whose provider is loaded from this checkout when the provider process
 * first needs it, instead of being serialized into the state. `pulumi.dynamic.Resource` stores
 * the provider's serialized closure (everything its methods reach: about 50 KB for the drift
 * providers) as the `__provider` input, and again as an output, in every resource: 115 KB per
 * drift resource. Here `__provider` is a few hundred bytes of code that requires the provider's
 * module (TypeScript, compiled by the project's own `typescript` on the way in).
 *
 * The nodejs dynamic provider host evaluates `__provider` with require-from-string and calls its
 * `handler()`; it caches one provider per distinct text, so every resource of a kind shares one.
 * The module is found at the absolute path it had when the program ran, else (a moved checkout
 * reading an older state) at the same path relative to the provider's working directory, the
 * project directory.
 */
export function providerSource(moduleFile: string, exportName: string, projectRoot: string): string {
  const relative = path.relative(projectRoot, moduleFile);
  return [
    "exports.handler = function () {",
    '  const fs = require("fs"), path = require("path");',
    `  let file = ${JSON.stringify(moduleFile)};`,
    `  if (!fs.existsSync(file)) file = path.resolve(${JSON.stringify(relative)});`,
    '  if (!require.extensions[".ts"]) {',
    '    const ts = require(require.resolve("typescript", { paths: [path.dirname(file)] }));',
    '    const options = { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true, resolveJsonModule: true };',
    '    require.extensions[".ts"] = (m, f) => m._compile(ts.transpileModule(fs.readFileSync(f, "utf8"), { fileName: f, compilerOptions: options }).outputText, f);',
    "  }",
    `  return require(file)[${JSON.stringify(exportName)}];`,
    "};",
    "",
  ].join("\n");
}

const ROOT = path.resolve(__dirname, "../..");

/** A `pulumi-nodejs:dynamic/kop:TYPE` resource served by `exportName` of `moduleFile` (see providerSource). */
export abstract class LoadedDynamicResource extends pulumi.CustomResource {
  constructor(moduleFile: string, exportName: string, type: string, name: string, props: Record<string, unknown>, opts?: pulumi.CustomResourceOptions) {
    if ("__provider" in props) throw new Error("a dynamic resource must not define the __provider key");
    super(`pulumi-nodejs:dynamic/kop:${type}`, name, { ...props, __provider: providerSource(moduleFile, exportName, ROOT) }, opts);
  }
}
