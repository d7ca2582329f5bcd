/**
 * npm run render -- <stack> <outdir>
 * Writes every file and script the stack would place on each host, without the Pulumi engine.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { loadStackForCli } from "./lib/cli";
import { renderPlan } from "./lib/render-plan";

function main(argv: string[]): number {
  const [stack, outDir] = argv;
  if (!stack || !outDir) {
    console.error("usage: npm run render -- <stack> <outdir>   (stack: a stacks/Pulumi.<stack>.yaml)");
    return 2;
  }
  const model = loadStackForCli(stack);
  if (!model) return 1;
  // Replace an earlier render, but never wipe a directory that holds anything else.
  if (fs.existsSync(outDir) && fs.readdirSync(outDir).length > 0) {
    if (!fs.existsSync(path.join(outDir, "manifest.json"))) {
      console.error(`${outDir} is not empty and holds no earlier render (manifest.json): choose an empty or new directory`);
      return 1;
    }
    fs.rmSync(outDir, { recursive: true, force: true });
  }
  const manifest = renderPlan(model, outDir);
  const hosts = new Set(manifest.map((e) => e.host));
  const count = (kind: string) => manifest.filter((e) => e.kind === kind).length;
  console.log(
    `rendered ${stack}: ${hosts.size} hosts, ${count("script")} steps, ${count("delete-script")} delete scripts, ${count("file")} files -> ${outDir} (manifest.json lists them)`,
  );
  return 0;
}

process.exitCode = main(process.argv.slice(2));
