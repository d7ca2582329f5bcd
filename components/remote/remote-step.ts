import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import * as os from "node:os";
import type { HostModel } from "../config";
import { withoutPromiseStacks } from "./declare";
import { stepInvocation, withRevisions } from "./invocation";
import { secretLines } from "./shell";
import type { StepSpec } from "./step";

export interface ConnectionSettings {
  /** The secret key from `cluster:sshPrivateKey`, if set. */
  privateKey?: pulumi.Output<string>;
  /** Reads a key file named by `privateKeyPath` (injected so tests need no files); undefined in a preview without the file. */
  readKeyFile: (path: string) => string | undefined;
}

export function hostConnection(host: HostModel, settings: ConnectionSettings): command.types.input.remote.ConnectionArgs {
  const keyFromFile = host.ssh.privateKeyPath ? settings.readKeyFile(host.ssh.privateKeyPath.replace(/^~(?=\/)/, os.homedir())) : undefined;
  const privateKey = keyFromFile !== undefined ? pulumi.secret(keyFromFile) : host.ssh.privateKeyPath ? undefined : settings.privateKey;
  return {
    host: host.address,
    port: host.ssh.port,
    user: host.ssh.user,
    privateKey,
    hostKey: host.ssh.hostKey,
    // The dial is retried (a host may still be booting); a failing script is not.
    dialErrorLimit: 20,
    perDialTimeout: 15,
  };
}

/** Secret lines already made, per secrets map and list of names: steps that read the same secrets share one. */
const secretLinesCache = new WeakMap<Readonly<Record<string, pulumi.Output<string>>>, Map<string, pulumi.Output<string>>>();

/** The "NAME=base64" lines of the named secrets, in the order the script reads them (one secret Output per list of names). */
export function secretLinesFor(names: readonly string[], secrets: Readonly<Record<string, pulumi.Output<string>>>): pulumi.Output<string> {
  const key = names.join(",");
  const cached = secretLinesCache.get(secrets)?.get(key);
  if (cached) return cached;
  const values = names.map((name) => {
    const value = secrets[name];
    if (!value) throw new Error(`no secret named "${name}" is defined`);
    return value;
  });
  const lines = pulumi.secret(pulumi.all(values).apply((resolved) => secretLines(names, resolved)));
  const known = secretLinesCache.get(secrets) ?? new Map<string, pulumi.Output<string>>();
  known.set(key, lines);
  secretLinesCache.set(secrets, known);
  return lines;
}

/** A step's stdin: its scripts (invocation.ts), then its secret lines; secret as a whole when it carries any. */
export function stdinFor(scripts: string, names: readonly string[], secrets: Readonly<Record<string, pulumi.Output<string>>>): pulumi.Input<string> {
  if (names.length === 0) return scripts;
  return secretLinesFor(names, secrets).apply((lines) => scripts + lines);
}

/** The @pulumi/command release whose plugin runs the steps (what `command.remote.Command` asks the engine for). */
const COMMAND_PLUGIN_VERSION: string = (require("@pulumi/command/package.json") as { version: string }).version.replace(/^v/, "");

/** The inputs of a `command:remote:Command` that a step sets (the provider's own property names). */
export interface RemoteCommandArgs {
  connection: pulumi.Input<command.types.input.remote.ConnectionArgs>;
  /** Also what an update runs: the provider re-runs `create` when no `update` is given. */
  create: pulumi.Input<string>;
  delete?: string;
  stdin?: pulumi.Input<string>;
  /** Left out means the provider's default, stdoutAndStderr. */
  logging?: "none";
  addPreviousOutputInEnv: boolean;
}

/**
 * A `command:remote:Command` (the @pulumi/command provider's resource, same type and inputs)
 * declared with only the properties a step sets, plus `stdout` when a step's output is used.
 * The SDK keeps an Output with four pending promises for every property a resource declares,
 * for as long as the resource is pending; `command.remote.Command` declares all twelve of its
 * properties and re-wraps the connection in a fresh secret Output per resource. At 1000
 * workers that was about half of the program's memory and CPU (docs/benchmarks.md).
 */
export class RemoteCommand extends pulumi.CustomResource {
  static readonly TYPE = "command:remote:Command";
  /** The script's stdout; only on steps declared with `withStdout`. */
  declare readonly stdout: pulumi.Output<string>;

  constructor(name: string, args: RemoteCommandArgs, withStdout: boolean, opts: pulumi.CustomResourceOptions) {
    const props: Record<string, unknown> = {
      connection: args.connection,
      create: args.create,
      addPreviousOutputInEnv: args.addPreviousOutputInEnv,
    };
    if (args.logging !== undefined) props.logging = args.logging;
    if (args.delete !== undefined) props.delete = args.delete;
    if (args.stdin !== undefined) props.stdin = args.stdin;
    if (withStdout) props.stdout = undefined;
    super(RemoteCommand.TYPE, name, props, {
      ...opts,
      version: COMMAND_PLUGIN_VERSION,
      additionalSecretOutputs: ["connection", ...(opts.additionalSecretOutputs ?? [])],
    });
  }
}

/**
 * The one place a remote step is declared, with the command strings and stdin of
 * `stepInvocation`. The create command is also what the provider runs on an update (no `update`
 * given): scripts converge, so a changed script re-runs in place instead of replacing the step
 * (whose delete would undo what the new create just did). A changed script changes the create
 * command (its length and digest are in it), so the update is planned on the step itself.
 */
export function remoteStep(
  spec: StepSpec,
  args: {
    /** The host's connection, one secret Output shared by its steps (see `secretConnection`). */
    connection: pulumi.Input<command.types.input.remote.ConnectionArgs>;
    sudo: boolean;
    secrets: Readonly<Record<string, pulumi.Output<string>>>;
    dependsOn: pulumi.Resource[];
    parent: pulumi.Resource;
    deletedWith?: pulumi.Resource;
    /**
     * Values whose change must re-run the step in place, e.g. the revisions of its drift-checked
     * files (components/drift). They go into the command text, not `triggers`: @pulumi/command
     * forces replaceOnChanges on `triggers`, and a replacement runs the old delete script after
     * the new create, undoing it. A changed `create`/`update` is an in-place update instead.
     */
    rerunOn?: pulumi.Input<unknown>[];
  },
): RemoteCommand {
  const invocation = stepInvocation(spec, args.sudo);
  const rerunOn = args.rerunOn ?? [];
  // One value (a step's ManagedFiles revision) needs no pulumi.all: one Output less per step.
  const run =
    rerunOn.length === 1
      ? (pulumi.output(rerunOn[0]) as pulumi.Output<unknown>).apply((value) => withRevisions(invocation.create, [value]))
      : rerunOn.length > 1
        ? pulumi.all(rerunOn).apply((values) => withRevisions(invocation.create, values))
        : invocation.create;
  const handlesSecrets = spec.secrets.length > 0 || spec.output === "secret";
  return withoutPromiseStacks(
    () =>
      new RemoteCommand(
        spec.id,
        {
          connection: args.connection,
          create: run,
          delete: invocation.delete,
          stdin: stdinFor(invocation.scripts, spec.secrets, args.secrets),
          addPreviousOutputInEnv: false,
          logging: handlesSecrets ? "none" : undefined,
        },
        spec.output !== undefined,
        {
          parent: args.parent,
          dependsOn: args.dependsOn,
          deletedWith: args.deletedWith,
          additionalSecretOutputs: handlesSecrets ? ["stdout", "stderr"] : [],
          customTimeouts: spec.timeouts,
        },
      ),
  );
}
