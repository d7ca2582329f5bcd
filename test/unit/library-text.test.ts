/**
 * The shell function libraries as scripts carry them (libraryText, components/remote/shell.ts):
 * without their comment-only and blank lines, and read by bash exactly as the commented source
 * files are (same functions, variables and traps).
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { APT_FUNCTIONS, DNF_FUNCTIONS } from "../../components/host/package-manager";
import { libraryText, PRELUDE } from "../../components/remote/shell";

const source = (file: string) => fs.readFileSync(path.join(__dirname, "..", "..", file), "utf8");
const PRELUDE_SOURCE = source("components/remote/prelude.sh");
const PACKAGES_SOURCE = source("components/host/packages.sh");
const APT_SOURCE = PACKAGES_SOURCE + source("components/host/apt.sh");
const DNF_SOURCE = PACKAGES_SOURCE + source("components/host/dnf.sh");

/** What bash has after reading `text`: every function as bash prints it, the KOP_ variables, the traps. */
function definitions(text: string): string {
  const report = ["declare -f", 'for v in $(compgen -v KOP_); do declare -p "$v"; done', "trap -p", "trap - EXIT"].join("\n");
  return execFileSync("bash", ["-c", `set -euo pipefail\n${text}\n${report}`], { encoding: "utf8" });
}

describe("shell function libraries as scripts carry them", () => {
  it("bash reads the prelude and apt's and dnf's functions exactly as their commented source files", () => {
    const dnf = definitions(`${PRELUDE}\n${DNF_FUNCTIONS}`);
    expect(dnf).toBe(definitions(`${PRELUDE_SOURCE}\n${DNF_SOURCE}`));
    expect(dnf).toContain("kop_pkg_install ()");
    expect(dnf).toContain("kop_fetch ()");
    const carried = definitions(`${PRELUDE}\n${APT_FUNCTIONS}`);
    expect(carried).toBe(definitions(`${PRELUDE_SOURCE}\n${APT_SOURCE}`));
    expect(carried).toContain("kop_put ()");
    expect(carried).toContain("kop_pkg_install ()");
    expect(carried).toContain("declare -- KOP_APPLIED=");
    expect(carried).toContain("trap -- 'kop_on_exit' EXIT");
  });

  it("leave out comment-only and blank lines, and are much smaller", () => {
    for (const text of [PRELUDE, APT_FUNCTIONS, DNF_FUNCTIONS]) {
      expect(text.trimEnd().split("\n").filter((line) => /^\s*(#|$)/.test(line))).toEqual([]);
    }
    expect(PRELUDE.length).toBeLessThan(PRELUDE_SOURCE.length * 0.65);
    expect(APT_FUNCTIONS.length).toBeLessThan(APT_SOURCE.length * 0.8);
    expect(DNF_FUNCTIONS.length).toBeLessThan(DNF_SOURCE.length * 0.8);
  });

  it("keep #! lines, shellcheck directives and trailing comments; refuse here-documents, not here-strings", () => {
    const text = "#!/usr/bin/env bash\n# a comment\n\n  # indented comment\n# shellcheck disable=SC2034\nx=1 # why\nread -r y <<<\"$x\"\n";
    expect(libraryText(text)).toBe("#!/usr/bin/env bash\n# shellcheck disable=SC2034\nx=1 # why\nread -r y <<<\"$x\"\n");
    expect(() => libraryText("cat <<'EOF'\n# content\nEOF\n")).toThrow(/here-document/);
  });
});
