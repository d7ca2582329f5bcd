import * as pulumi from "@pulumi/pulumi";
import { MockMonitor } from "@pulumi/pulumi/runtime/mocks";
import * as settings from "@pulumi/pulumi/runtime/settings";

/** One resource as the engine would receive it: type, name, parent, direct dependencies, inputs. */
export interface RecordedResource {
  urn: string;
  type: string;
  name: string;
  parent: string;
  custom: boolean;
  dependencies: string[];
  /** Inputs as sent to the engine; secret values keep the engine's secret envelope (see isSecretValue). */
  inputs: Record<string, unknown>;
  additionalSecretOutputs: string[];
  /** The provider plugin version the resource asks the engine for ("" when unset). */
  version: string;
}

const SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

export function isSecretValue(value: unknown): boolean {
  return typeof value === "object" && value !== null && (value as Record<string, unknown>)[SECRET_SIG_KEY] === SECRET_SIG;
}

/** The plain value inside a secret envelope (or the value itself). */
export function reveal(value: unknown): unknown {
  return isSecretValue(value) ? (value as { value: unknown }).value : value;
}

let recorder: RecordedResource[] | undefined;
type RegisterRequest = {
  getUrn?: () => string;
  getType(): string;
  getName(): string;
  getParent(): string;
  getCustom(): boolean;
  getDependenciesList(): string[];
  getObject(): { toJavaScript(): Record<string, unknown> } | undefined;
  getAdditionalsecretoutputsList(): string[];
  getVersion(): string;
};
const monitor = MockMonitor.prototype as unknown as {
  registerResource(req: RegisterRequest, cb: (err: unknown, res: unknown) => void): Promise<void>;
  newUrn(parent: string, type: string, name: string): string;
};
const originalRegister = monitor.registerResource;
monitor.registerResource = async function (this: typeof monitor, req, callback) {
  recorder?.push({
    urn: this.newUrn(req.getParent(), req.getType(), req.getName()),
    type: req.getType(),
    name: req.getName(),
    parent: req.getParent(),
    custom: req.getCustom(),
    dependencies: req.getDependenciesList(),
    inputs: req.getObject()?.toJavaScript() ?? {},
    additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
    version: req.getVersion(),
  });
  return originalRegister.call(this, req, callback);
};

export interface MockRunOptions {
  /** true: `pulumi preview` (isDryRun); false: `pulumi up`. */
  preview?: boolean;
  stack?: string;
  /** Fake results for resources, by type (e.g. a command's stdout). */
  outputs?: (type: string, name: string, inputs: Record<string, unknown>) => Record<string, unknown> | undefined;
}

/**
 * Runs `build` under Pulumi mocks and returns every resource the program registered,
 * with the dependencies the engine would see.
 */
export async function runUnderMocks<T>(build: () => T, opts: MockRunOptions = {}): Promise<ResourceGraph & { result: T }> {
  const recorded: RecordedResource[] = [];
  let result: T;
  recorder = recorded;
  try {
    await pulumi.runtime.setMocks(
      {
        newResource: (args) => ({
          id: `${args.name}-id`,
          state: { ...args.inputs, ...(opts.outputs?.(args.type, args.name, args.inputs) ?? defaultOutputs(args.type)) },
        }),
        call: (args) => args.inputs,
      },
      "kubeadm-on-pulumi",
      opts.stack ?? "test",
      opts.preview ?? true,
    );
    result = build();
    await (settings as unknown as { waitForRPCs(): Promise<void> }).waitForRPCs();
  } finally {
    recorder = undefined;
  }
  return Object.assign(new ResourceGraph(recorded), { result: result! });
}

function defaultOutputs(type: string): Record<string, unknown> {
  if (type === "command:remote:Command") return { stdout: "", stderr: "" };
  if (type === "random:index/randomPassword:RandomPassword") return { result: "mockedsecretvalue" };
  if (type === "random:index/randomBytes:RandomBytes") return { hex: "00".repeat(32), base64: "" };
  return {};
}

export class ResourceGraph {
  readonly byUrn: Map<string, RecordedResource>;
  constructor(readonly resources: RecordedResource[]) {
    this.byUrn = new Map(resources.map((r) => [r.urn, r]));
  }

  /** Custom (non-component) resources, the ones the engine creates. */
  get custom(): RecordedResource[] {
    return this.resources.filter((r) => r.custom);
  }

  byName(name: string): RecordedResource {
    const found = this.resources.find((r) => r.name === name);
    if (!found) throw new Error(`no resource named ${name}`);
    return found;
  }

  has(name: string): boolean {
    return this.resources.some((r) => r.name === name);
  }

  /** Direct dependencies by name, with component dependencies expanded to the custom resources under them. */
  dependenciesOf(name: string): string[] {
    return [...new Set(this.byName(name).dependencies.flatMap((urn) => this.expand(urn)))];
  }

  /** Direct dependencies of one resource by URN (names are not unique across types), components expanded. */
  dependencyUrnsOf(urn: string): string[] {
    const r = this.byUrn.get(urn);
    if (!r) throw new Error(`no resource ${urn}`);
    return [...new Set(r.dependencies.flatMap((dep) => this.expandUrns(dep)))];
  }

  private expandUrns(urn: string): string[] {
    const r = this.byUrn.get(urn);
    if (!r) return [];
    if (r.custom) return [r.urn];
    return this.resources.filter((c) => c.parent === urn).flatMap((c) => this.expandUrns(c.urn));
  }

  /** Every resource `name` waits for, directly or not. */
  ancestorsOf(name: string): Set<string> {
    const seen = new Set<string>();
    const stack = [name];
    while (stack.length > 0) {
      for (const dep of this.dependenciesOf(stack.pop()!)) {
        if (!seen.has(dep)) {
          seen.add(dep);
          stack.push(dep);
        }
      }
    }
    return seen;
  }

  private expand(urn: string): string[] {
    return this.expandUrns(urn).map((u) => this.byUrn.get(u)!.name);
  }

  /** Longest chain of custom resources (number of resources on it). */
  depth(): number {
    const memo = new Map<string, number>();
    const longest = (name: string): number => {
      const known = memo.get(name);
      if (known !== undefined) return known;
      const deps = this.dependenciesOf(name);
      const value = 1 + (deps.length ? Math.max(...deps.map(longest)) : 0);
      memo.set(name, value);
      return value;
    };
    return Math.max(0, ...this.custom.map((r) => longest(r.name)));
  }

  /** Resources per level (level = longest chain ending at the resource). */
  levels(): Map<number, string[]> {
    const memo = new Map<string, number>();
    const level = (name: string): number => {
      const known = memo.get(name);
      if (known !== undefined) return known;
      const deps = this.dependenciesOf(name);
      const value = deps.length ? 1 + Math.max(...deps.map(level)) : 0;
      memo.set(name, value);
      return value;
    };
    const levels = new Map<number, string[]>();
    for (const r of this.custom) {
      const l = level(r.name);
      levels.set(l, [...(levels.get(l) ?? []), r.name]);
    }
    return levels;
  }
}
