import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { loadStackFile } from "../../components/config";
import { planCluster } from "../../components/plan";
import { PRELUDE } from "../../components/remote/shell";

/** Runs a script with the prelude, the applied records kept under `dir` instead of /var/lib. */
function run(dir: string, body: string, expectCode = 0): string {
  const prelude = PRELUDE.split("/var/lib/kubeadm-on-pulumi/applied").join(path.join(dir, "applied"));
  try {
    const out = execFileSync("bash", ["-c", `set -euo pipefail\n${prelude}\n${body}`], { encoding: "utf8" });
    expect(expectCode).toBe(0);
    return out.trim();
  } catch (e) {
    const err = e as { status: number; stdout: string };
    expect(err.status).toBe(expectCode);
    return err.stdout.trim();
  }
}

describe("kop_put and the applied records", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kop-prelude-"));
  const file = path.join(dir, "etc", "app.conf");
  const record = path.join(dir, "applied", file);
  const put = (content: string, tail = "") => `if printf '${content}' | kop_put '${file}' 0644; then echo changed; else echo unchanged; fi${tail}`;

  it("reports a change once, and records what a successful run left", () => {
    expect(run(dir, put("a\\n"))).toBe("changed");
    expect(fs.readFileSync(record, "utf8")).toMatch(/^[0-9a-f]{64} 644 \S+:\S+\n$/);
    expect(run(dir, put("a\\n"))).toBe("unchanged");
  });

  it("reports a change again after a run that wrote and then failed", () => {
    expect(run(dir, put("b\\n", "\nexit 3"), 3)).toBe("changed");
    expect(fs.readFileSync(record, "utf8")).toBe("stale\n");
    expect(run(dir, put("b\\n"))).toBe("changed");
    expect(run(dir, put("b\\n"))).toBe("unchanged");
  });

  it("reports a change when a drift repair put the same content back (stale record)", () => {
    fs.writeFileSync(record, "stale 644 root:root\n");
    expect(run(dir, put("b\\n"))).toBe("changed");
    expect(run(dir, put("b\\n"))).toBe("unchanged");
  });

  it("keeps the exit status of the script and leaves no pending list behind", () => {
    run(dir, "exit 7", 7);
    expect(fs.readdirSync(path.join(dir, "applied")).filter((f) => f.startsWith(".pending"))).toEqual([]);
  });

  it("kop_restore forgets the record with the file", () => {
    run(dir, `kop_restore '${file}'`);
    expect(fs.existsSync(file)).toBe(false);
    expect(fs.existsSync(record)).toBe(false);
  });
});

describe("every planned script", () => {
  it("leaves the EXIT trap to the prelude (it commits the applied records)", () => {
    for (const stack of ["dev", "prod", "china"]) {
      for (const step of planCluster(loadStackFile(stack)).steps) {
        for (const text of [step.script, step.deleteScript ?? ""]) {
          const traps = text.split("\n").filter((line) => /^\s*trap\b.*\bEXIT\b/.test(line) && !line.includes("kop_on_exit"));
          expect(traps, `${stack} ${step.id}`).toEqual([]);
        }
      }
    }
  });
});
