// Prints "<tier>: N passed, N failed" from a vitest JSON report, so CI logs end with one plain line per tier.
// A test file that fails before its tests run (e.g. in beforeAll) counts as a failure too.
import { readFileSync } from "node:fs";
const [file, tier] = process.argv.slice(2);
const report = JSON.parse(readFileSync(file, "utf8"));
// A failed test also fails its file and its describe blocks: count those only when no test in the file
// failed (a hook or an import that failed), so one failed test reads "1 failed".
const filesFailedOutsideTests = report.testResults.filter(
  (f) => f.status === "failed" && !f.assertionResults.some((a) => a.status === "failed"),
).length;
const failed = report.numFailedTests + filesFailedOutsideTests;
console.log(`${tier}: ${report.numPassedTests} passed, ${failed} failed`);
process.exitCode = report.success && failed === 0 && report.numTotalTests > 0 ? 0 : 1;
