// Prints "<tier>: N passed, N failed" from a vitest JSON report, so CI logs end with one plain line per tier.
import { readFileSync } from "node:fs";
const [file, tier] = process.argv.slice(2);
const report = JSON.parse(readFileSync(file, "utf8"));
console.log(`${tier}: ${report.numPassedTests} passed, ${report.numFailedTests} failed`);
process.exitCode = report.success && report.numTotalTests > 0 ? 0 : 1;
