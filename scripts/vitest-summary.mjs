// Prints "<tier>: N passed, N failed" from a vitest JSON report, so CI logs end with one plain line per tier.
// A test file that fails before its tests run (e.g. in beforeAll) counts as a failure too.
import { readFileSync } from "node:fs";
const [file, tier] = process.argv.slice(2);
const report = JSON.parse(readFileSync(file, "utf8"));
const failed = report.numFailedTests + report.numFailedTestSuites;
console.log(`${tier}: ${report.numPassedTests} passed, ${failed} failed`);
process.exitCode = report.success && failed === 0 && report.numTotalTests > 0 ? 0 : 1;
