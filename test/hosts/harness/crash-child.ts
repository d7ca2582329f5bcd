/**
 * Used by harness.test.ts: starts one test host, prints its run as JSON, then
 * waits to be killed (SIGKILL, like a crashed test process) without teardown.
 */
import { startTestHosts } from "./index";

(async () => {
  const env = await startTestHosts(process.argv.slice(2));
  process.stdout.write(`${JSON.stringify({ runDir: env.runDir, hosts: env.hosts, pid: process.pid })}\n`);
  setInterval(() => undefined, 60_000);
})().catch((e) => {
  process.stderr.write(`${String(e)}\n`);
  process.exit(1);
});
