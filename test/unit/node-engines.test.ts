import * as path from "node:path";
import semver from "semver";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(__dirname, "..", "..");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { satisfies } = require(path.join(ROOT, "scripts", "check-node.cjs")) as { satisfies(version: string, range: string): boolean };
const pkg = require(path.join(ROOT, "package.json")) as { engines: { node: string } };
const lock = require(path.join(ROOT, "package-lock.json")) as { packages: Record<string, { engines?: { node?: string } }> };

describe("the Node.js versions package.json states", () => {
  const stated = pkg.engines.node;
  const lowerBounds = stated.split("||").map((part) => part.trim().replace(/^(\^|>=)/, ""));

  it("are accepted by every installed package, at each lower bound and on this machine", () => {
    for (const version of [...lowerBounds, process.version]) {
      const refusing = Object.entries(lock.packages)
        .filter(([where, entry]) => where !== "" && entry.engines?.node && !semver.satisfies(version, entry.engines.node))
        .map(([where, entry]) => `${where} (${entry.engines!.node})`);
      expect(refusing, `Node ${version}`).toEqual([]);
    }
  });

  it("are what scripts/check-node.cjs enforces (npm test and install-test-deps run it first)", () => {
    for (const version of ["20.18.1", "20.19.0", "21.7.3", "22.11.0", "22.12.0", "24.1.0", "18.20.8"]) {
      expect(satisfies(version, stated), version).toBe(semver.satisfies(version, stated));
    }
    expect(satisfies(process.version, stated)).toBe(true);
  });
});
