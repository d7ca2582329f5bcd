/**
 * node-prep (components/remote/bundle.ts) as bash reads it, without a host: the undo script it
 * writes on the host is exactly renderNodePrep's undoScript, and each part (and each part's
 * delete, in the undo script) runs exactly its own script. The parts' runs are replaced by
 * functions that keep what they would run; the scripts' directories point into a scratch one.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { loadStackFile } from "../../components/config";
import { planCluster, planEngine } from "../../components/plan";
import { NODE_PREP_PARTS, PARTS_DIR, renderNodePrep, UNDO_DIR } from "../../components/remote/bundle";
import type { StepSpec } from "../../components/remote/step";

const partName = (step: StepSpec) => step.id.slice(step.host.length + 1);

/** Each node-prep host of a stack, with its parts in the fine-grained plan. */
function partsByHost(stack: string): Map<string, StepSpec[]> {
  const byHost = new Map<string, StepSpec[]>();
  for (const step of planCluster(loadStackFile(stack)).steps) {
    if (!(NODE_PREP_PARTS as readonly string[]).includes(partName(step))) continue;
    byHost.set(step.host, [...(byHost.get(step.host) ?? []), step]);
  }
  return byHost;
}

/** `text` with `definition` inserted before the first line that starts with `call`. */
function overriding(text: string, call: string, definition: string): string {
  const at = text.indexOf(`\n${call}`);
  expect(at, `no ${call.trim()} in the script`).toBeGreaterThan(0);
  return `${text.slice(0, at)}\n${definition}${text.slice(at)}`;
}

const bash = (text: string) => execFileSync("bash", ["-c", text], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

describe("node-prep as bash runs it", () => {
  for (const stack of ["dev", "prod", "china"]) {
    it(`stack ${stack}: the undo script written on the host is undoScript; parts and their deletes run exactly their own scripts`, () => {
      for (const [host, parts] of partsByHost(stack)) {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kop-bundle-"));
        const undoDir = path.join(dir, "undo");
        const ran = path.join(dir, "ran");
        fs.mkdirSync(ran);
        const rendered = renderNodePrep(host, parts);
        // What bash -c would run for the part: kop_part's own `body=$(kop_expand "$(cat)")`.
        const keep = `() { local body; body=$(kop_expand "$(cat)"); printf '%s' "$body" >"${ran}/$1"; }`;
        bash(overriding(rendered.script.split(UNDO_DIR).join(undoDir), "kop_part '", `kop_part${keep}`));
        const undo = fs.readFileSync(path.join(undoDir, "node-prep.sh"), "utf8");
        expect(undo, `${stack} ${host}`).toBe(rendered.undoScript.split(UNDO_DIR).join(undoDir));
        for (const part of parts) {
          expect(fs.readFileSync(path.join(ran, partName(part)), "utf8"), `${host} ${partName(part)}`).toBe(part.script.replace(/\n+$/, ""));
          fs.rmSync(path.join(ran, partName(part)));
        }
        // The undo script up to its last lines (which clean the real /var/lib directories).
        const tail = undo.lastIndexOf(`\nrm -rf ${PARTS_DIR} `);
        expect(tail).toBeGreaterThan(0);
        bash(overriding(undo.slice(0, tail + 1), "kop_undo_part '", `kop_undo_part${keep}`));
        const undone = parts.filter((p) => p.deleteScript);
        expect(fs.readdirSync(ran).sort()).toEqual(undone.map(partName).sort());
        for (const part of undone) {
          expect(fs.readFileSync(path.join(ran, partName(part)), "utf8"), `${host} ${partName(part)} delete`).toBe(part.deleteScript!.replace(/\n+$/, ""));
        }
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  it("carries each shared function library once: the script and the undo script run the prelude from its data", () => {
    const steps = planEngine(loadStackFile("prod")).steps.filter((s) => s.id.endsWith("/node-prep"));
    expect(steps.length).toBeGreaterThan(0);
    const count = (text: string, what: string) => text.split(what).length - 1;
    for (const step of steps) {
      expect(count(step.script, "\nkop_write() {"), step.id).toBe(1);
      expect(count(step.script, "\nkop_pkg_install() {"), step.id).toBe(1);
      expect(count(step.script, 'eval "$KOP_SHARED_0"'), step.id).toBe(2);
    }
  });
});
