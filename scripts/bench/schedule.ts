/**
 * `pulumi up` as a list-scheduling simulation: a resource starts as soon as every resource it
 * depends on has finished and fewer than `parallelism` resources are running. Resources that
 * became ready earlier start first; ties go to declaration order (the order the program
 * registers them). Pure: durations in, times out.
 */

export interface Job {
  name: string;
  /** Seconds (any unit, used consistently). */
  duration: number;
  deps: readonly string[];
}

export interface Schedule {
  makespan: number;
  /** Start time of each job, by name. */
  start: Map<string, number>;
  /** Most jobs running at one moment. */
  peakRunning: number;
}

/** A binary min-heap ordered by (key, index). */
class Heap {
  private keys: number[] = [];
  private items: number[] = [];
  get size(): number {
    return this.items.length;
  }
  peekKey(): number {
    return this.keys[0];
  }
  push(key: number, item: number): void {
    this.keys.push(key);
    this.items.push(item);
    let i = this.items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }
  pop(): number {
    const top = this.items[0];
    const lastKey = this.keys.pop()!;
    const lastItem = this.items.pop()!;
    if (this.items.length > 0) {
      this.keys[0] = lastKey;
      this.items[0] = lastItem;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < this.items.length && this.less(l, m)) m = l;
        if (r < this.items.length && this.less(r, m)) m = r;
        if (m === i) break;
        this.swap(i, m);
        i = m;
      }
    }
    return top;
  }
  private less(a: number, b: number): boolean {
    return this.keys[a] < this.keys[b] || (this.keys[a] === this.keys[b] && this.items[a] < this.items[b]);
  }
  private swap(a: number, b: number): void {
    [this.keys[a], this.keys[b]] = [this.keys[b], this.keys[a]];
    [this.items[a], this.items[b]] = [this.items[b], this.items[a]];
  }
}

interface Indexed {
  index: Map<string, number>;
  dependents: number[][];
  pending: number[];
}

function indexJobs(jobs: readonly Job[]): Indexed {
  const index = new Map<string, number>();
  jobs.forEach((job, i) => {
    if (index.has(job.name)) throw new Error(`job ${job.name} is listed twice`);
    if (!(job.duration >= 0) || !Number.isFinite(job.duration)) throw new Error(`job ${job.name} has duration ${job.duration}`);
    index.set(job.name, i);
  });
  const dependents: number[][] = jobs.map(() => []);
  const pending = jobs.map((job) => new Set(job.deps).size);
  jobs.forEach((job, i) => {
    for (const dep of new Set(job.deps)) {
      const d = index.get(dep);
      if (d === undefined) throw new Error(`job ${job.name} depends on unknown job ${dep}`);
      dependents[d].push(i);
    }
  });
  return { index, dependents, pending };
}

/** Simulates the run with at most `parallelism` jobs at once (Infinity: no limit). */
export function simulate(jobs: readonly Job[], parallelism: number): Schedule {
  if (!(parallelism >= 1)) throw new Error(`parallelism must be at least 1, got ${parallelism}`);
  const { dependents, pending } = indexJobs(jobs);
  const ready = new Heap(); // key: time the job became ready
  const running = new Heap(); // key: finish time
  const start = new Map<string, number>();
  jobs.forEach((_, i) => {
    if (pending[i] === 0) ready.push(0, i);
  });
  let now = 0;
  let done = 0;
  let peakRunning = 0;
  for (;;) {
    while (running.size < parallelism && ready.size > 0) {
      const i = ready.pop();
      start.set(jobs[i].name, now);
      running.push(now + jobs[i].duration, i);
    }
    peakRunning = Math.max(peakRunning, running.size);
    if (running.size === 0) break;
    now = running.peekKey();
    while (running.size > 0 && running.peekKey() === now) {
      const i = running.pop();
      done++;
      for (const d of dependents[i]) {
        if (--pending[d] === 0) ready.push(now, d);
      }
    }
  }
  if (done !== jobs.length) throw new Error(`dependency cycle: ${jobs.length - done} job(s) never became ready`);
  return { makespan: now, start, peakRunning };
}

/** The longest chain of durations (what no amount of parallelism can beat), with the jobs on it. */
export function criticalPath(jobs: readonly Job[]): { length: number; path: string[] } {
  const { dependents, pending } = indexJobs(jobs);
  const finish = new Array<number>(jobs.length).fill(0);
  const via = new Array<number>(jobs.length).fill(-1);
  const queue: number[] = [];
  jobs.forEach((_, i) => {
    if (pending[i] === 0) queue.push(i);
  });
  const earliest = new Array<number>(jobs.length).fill(0);
  for (let head = 0; head < queue.length; head++) {
    const i = queue[head];
    finish[i] = earliest[i] + jobs[i].duration;
    for (const d of dependents[i]) {
      if (via[d] === -1 || finish[i] > earliest[d]) {
        earliest[d] = finish[i];
        via[d] = i;
      }
      if (--pending[d] === 0) queue.push(d);
    }
  }
  if (queue.length !== jobs.length) throw new Error(`dependency cycle: ${jobs.length - queue.length} job(s) never became ready`);
  if (jobs.length === 0) return { length: 0, path: [] };
  let last = 0;
  for (let i = 1; i < jobs.length; i++) if (finish[i] > finish[last]) last = i;
  const path: string[] = [];
  for (let i = last; i !== -1; i = via[i]) path.unshift(jobs[i].name);
  return { length: finish[last], path };
}

/** One job at a time: the sum of all durations. */
export function serialTime(jobs: readonly Job[]): number {
  return jobs.reduce((sum, job) => sum + job.duration, 0);
}
