import type { DurationTable } from "./durations";
import type { EngineResult } from "./engine";
import type { ProvisioningResult } from "./provisioning";
import type { EvaluationSample, FloorSample, GraphShape, RenderSample } from "./types";

export interface RunFailure {
  kind: string;
  size: number;
  reason: string;
}

/** Everything `npm run bench` measured: written to docs/benchmarks.json. */
export interface BenchResult {
  date: string;
  command: string;
  machine: {
    cores: number;
    cpu: string;
    memoryGiB: number;
    node: string;
    /** Node arguments of the program's process (Pulumi.yaml runtime.options.nodeargs), used for the evaluation and floor runs. */
    programNodeArgs?: string;
    platform: string;
    /** 1-minute load average when the bench started, at every run's start (mean) and at the end. */
    loadAtStart: number;
    loadMeanDuringRuns: number;
    loadAtEnd: number;
  };
  benchSeconds: number;
  stack: string;
  evaluation: Array<{ workers: number; samples: EvaluationSample[]; skippedRepeats?: string }>;
  render: Array<{ workers: number; samples: RenderSample[]; skippedRepeats?: string }>;
  shape: Array<{ workers: number } & GraphShape & { parts: Record<string, number> }>;
  provisioning: ProvisioningResult[];
  floor: FloorSample[];
  durations: DurationTable;
  failures: RunFailure[];
  /** `npm run bench:engine`'s runs (scripts/bench/engine-preview.ts): kept when `npm run bench` rewrites the file. */
  realEngine?: EngineResult;
}
