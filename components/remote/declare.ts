/**
 * Runs `declare` (resource constructors, which run synchronously) without the stack trace the
 * Pulumi SDK records for each of its internal promises. The SDK's debuggablePromise keeps a
 * `new Error().stack` on every promise it makes, four per resource property (44 per
 * remote.Command), and reads them only to print promise-leak reports. Capturing and
 * formatting those stacks (source-mapped under ts-node and tsx) was half of the program's CPU
 * time at 300 workers (docs/benchmarks.md). The source position the SDK sends with each
 * resource is unaffected: the SDK lifts the limit itself to take it. With
 * PULUMI_DEBUG_PROMISE_LEAKS set the stacks are kept, for leak reports that show them.
 */
export function withoutPromiseStacks<T>(declare: () => T): T {
  if (process.env.PULUMI_DEBUG_PROMISE_LEAKS) return declare();
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return declare();
  } finally {
    Error.stackTraceLimit = limit;
  }
}
