/**
 * The drift resources the cluster declares: one ManagedFiles per step that places files; the
 * host's first one also lists the systemd units the host's steps keep running. Each entry is
 * handed to the single-file or single-unit provider (managed-file.ts, managed-unit.ts), so
 * checks, reads, repairs and what a preview shows per file or unit are theirs; the entries
 * share one connection.
 *
 * Units are declared before the steps that start them, so creating the resource only records
 * them; a refresh reads them, and an `up` after a refresh that found one stopped or disabled
 * starts or enables it (without re-running any step).
 *
 * Everything here runs inside the serialized providers too (see common.ts): no module state.
 *
 * Why lists: the Pulumi SDK keeps a few dozen pending promises per declared property of every
 * resource, and a dynamic resource's state carries its serialized provider. One resource per
 * file and per unit was 8 of a worker's 19 resources, about 40% of the program's memory at 300
 * workers, and tens of kilobytes of state each (docs/benchmarks.md).
 */
import * as pulumi from "@pulumi/pulumi";
import { changedConnectionKeys, CONNECTION_KEYS, type ConnectionProps, type DriftConnectionArgs, modeText, sha256Hex, withoutUndefined } from "./common";
import { LoadedDynamicResource } from "./loaded-provider";
import { managedFileProvider, type ManagedFileInputs, type ManagedFileState } from "./managed-file";
import { managedUnitProvider, type ManagedUnitInputs, type ManagedUnitState } from "./managed-unit";

type Entry<T> = Omit<T, keyof ConnectionProps>;
export type FileEntry = Entry<ManagedFileInputs> & { exists?: boolean; drift?: string[] };
export type FileEntryState = Entry<ManagedFileState>;
export type UnitEntry = Entry<ManagedUnitInputs> & { declaredEnabled?: boolean; declaredActive?: boolean; drift?: string[] };
export type UnitEntryState = Entry<ManagedUnitState>;

/** How the group reaches its host: one property (the SDK's cost grows with every declared property). */
export type Reach = Omit<ConnectionProps, "host">;
export interface GroupProps {
  /** The stack config's host name. */
  host: string;
  connection: Reach;
}

export interface ManagedFilesInputs extends GroupProps {
  /** The step that places these files (its id). */
  step: string;
  files: FileEntry[];
  /** The host's units (on the host's first ManagedFiles only). */
  units?: UnitEntry[];
}
export interface ManagedFilesState extends GroupProps {
  step: string;
  files: FileEntryState[];
  units?: UnitEntryState[];
  /** Bumped whenever an update repairs or changes a file: the step's command carries it. */
  revision: number;
  unreachable?: string;
}
/** What the single-item providers take as their connection. */
function connectionOf(group: GroupProps): ConnectionProps {
  const c = group.connection ?? ({} as Reach);
  return { host: group.host, address: c.address, port: c.port, user: c.user, privateKey: c.privateKey, hostKey: c.hostKey, sudo: c.sudo };
}

/** An entry with the group's connection: what the single-item provider takes. */
function withConnection<T>(group: GroupProps, entry: object): T {
  return { ...entry, ...connectionOf(group) } as T;
}

/** The group's own properties (host and connection) as its state keeps them. */
function groupOf(group: GroupProps): GroupProps {
  return { host: group.host, connection: group.connection };
}

/** An item's state or inputs without the connection the group holds once. */
function entryOf<T extends object>(item: T): Entry<T> {
  // Runs inside the serialized provider: no module-level Set (closure serialization cannot carry one).
  const omit: readonly string[] = ["host", ...CONNECTION_KEYS];
  return Object.fromEntries(Object.entries(item).filter(([k]) => !omit.includes(k))) as Entry<T>;
}

/** A refresh's inputs: the group's connection without the private key (see refreshedInputs). */
function refreshedConnection(props: GroupProps): { host: string; connection: Omit<Reach, "privateKey"> } {
  const { privateKey: _key, ...rest } = props.connection ?? ({} as Reach);
  return withoutUndefined({ host: props.host, connection: rest });
}

function prefixFailures(failures: Array<{ property: string; reason: string }> | undefined, list: string, index: number) {
  return (failures ?? []).map((f) => ({ property: `${list}[${index}].${f.property}`, reason: f.reason }));
}

function duplicates(keys: string[], list: string, what: string) {
  return keys.flatMap((k, i) => (keys.indexOf(k) < i ? [{ property: `${list}[${i}]`, reason: `${what} ${k} is listed twice` }] : []));
}

/** A unit as declared, before anything has read it (the steps that start it run after). */
function recordedUnit(u: UnitEntry): UnitEntryState {
  return { unit: u.unit, enabled: u.enabled, active: u.active, declaredEnabled: u.enabled, declaredActive: u.active, drift: [] } as unknown as UnitEntryState;
}

export const managedFilesProvider: pulumi.dynamic.ResourceProvider = {
  async check(olds: ManagedFilesInputs, news: ManagedFilesInputs) {
    const failures = duplicates((news.files ?? []).map((f) => f.path), "files", "path");
    for (const [i, f] of (news.files ?? []).entries()) {
      const old = olds?.files?.find((o) => o.path === f.path);
      const checked = await managedFileProvider.check!(old ? withConnection(olds, old) : (undefined as never), withConnection(news, f));
      failures.push(...prefixFailures(checked.failures, "files", i));
    }
    failures.push(...duplicates((news.units ?? []).map((u) => u.unit), "units", "unit"));
    for (const [i, u] of (news.units ?? []).entries()) {
      const checked = await managedUnitProvider.check!(undefined as never, withConnection(news, u));
      failures.push(...prefixFailures(checked.failures, "units", i));
    }
    return { inputs: news, failures };
  },

  async diff(id: string, olds: ManagedFilesState, news: ManagedFilesInputs) {
    const replaces = olds.host !== news.host ? ["host"] : [];
    const changed: string[] = [...changedConnectionKeys(connectionOf(olds), connectionOf(news))];
    if (olds.unreachable) changed.push("unreachable");
    const oldPaths = (olds.files ?? []).map((f) => f.path);
    if (oldPaths.join("\n") !== news.files.map((f) => f.path).join("\n")) changed.push("files");
    for (const f of news.files) {
      const old = olds.files?.find((o) => o.path === f.path);
      if (!old) continue;
      const d = await managedFileProvider.diff!(id, withConnection(olds, old), withConnection(news, f));
      if (d.changes) changed.push(`files[${f.path}]`);
    }
    if ((olds.units ?? []).map((u) => u.unit).join("\n") !== (news.units ?? []).map((u) => u.unit).join("\n")) changed.push("units");
    for (const u of news.units ?? []) {
      const old = olds.units?.find((o) => o.unit === u.unit);
      if (old && (await managedUnitProvider.diff!(id, withConnection(olds, old), withConnection(news, u))).changes) changed.push(`units[${u.unit}]`);
    }
    return { changes: replaces.length + changed.length > 0, replaces, deleteBeforeReplace: false };
  },

  async create(inputs: ManagedFilesInputs) {
    const files: FileEntryState[] = [];
    for (const f of inputs.files) files.push(entryOf((await managedFileProvider.create(withConnection(inputs, f))).outs as ManagedFileState));
    const units = inputs.units?.map(recordedUnit);
    const outs: ManagedFilesState = { ...groupOf(inputs), step: inputs.step, files, units, revision: 1 };
    return { id: `${inputs.host}:${inputs.step}:files`, outs: withoutUndefined(outs) };
  },

  async read(id: string, props: ManagedFilesState) {
    // Reads are independent: side by side, so an unreachable host costs one dial timeout, not one per file.
    const [reads, unitReads] = await Promise.all([
      Promise.all((props.files ?? []).map((f) => managedFileProvider.read!(`${props.host}:${f.path}`, withConnection(props, f)))),
      Promise.all((props.units ?? []).map((u) => managedUnitProvider.read!(`${props.host}:${u.unit}`, withConnection(props, u)))),
    ]);
    const files = reads.map((r) => entryOf(r.props as ManagedFileState));
    const units = props.units ? unitReads.map((r) => entryOf(r.props as ManagedUnitState)) : undefined;
    const unreachable = [...files, ...(units ?? [])].map((e) => e.unreachable).find(Boolean);
    const state = withoutUndefined({ ...props, files, units, unreachable });
    const inputs = {
      ...refreshedConnection(props),
      step: props.step,
      files: reads.map((r) => entryOf(r.inputs as object)),
      units: props.units ? unitReads.map((r) => entryOf(r.inputs as object)) : undefined,
      unreachable,
    };
    return { id, props: state, inputs: withoutUndefined(inputs) };
  },

  async update(id: string, olds: ManagedFilesState, news: ManagedFilesInputs) {
    const files: FileEntryState[] = [];
    let moved = false;
    for (const f of news.files) {
      const old = olds.files?.find((o) => o.path === f.path);
      const result = old
        ? await managedFileProvider.update!(id, withConnection(olds, old), withConnection(news, f))
        : await managedFileProvider.create(withConnection(news, f));
      const entry = entryOf(result.outs as ManagedFileState);
      moved ||= !old || entry.revision !== old.revision;
      files.push(entry);
    }
    // Units: repaired when the last refresh found them drifted (or could not look); otherwise recorded.
    const units: UnitEntryState[] | undefined = news.units ? [] : undefined;
    for (const u of news.units ?? []) {
      const old = olds.units?.find((o) => o.unit === u.unit);
      if (old && ((old.drift ?? []).length > 0 || old.unreachable)) {
        units!.push(entryOf((await managedUnitProvider.update!(id, withConnection(olds, old), withConnection(news, u))).outs as ManagedUnitState));
      } else units!.push(old && !old.unreachable ? old : recordedUnit(u));
    }
    // Unit repairs need no step to re-run: only file changes move the revision.
    const outs: ManagedFilesState = { ...groupOf(news), step: news.step, files, units, revision: (olds.revision ?? 0) + (moved ? 1 : 0) };
    return { outs: withoutUndefined(outs) };
  },

  // The step's delete script restores the host's original files (kop_restore): nothing to do here.
  async delete() {},
};

/** A file a step places, as ManagedFiles declares it. */
export interface ManagedFileDeclaration {
  path: string;
  mode: string;
  /** Plain files: the content the step places. Omit for secret files. */
  content?: string;
  secret?: boolean;
  owner?: string;
}

/** The connection as properties; an unset host key is left out rather than declared undefined. */
function connectionProps(c: DriftConnectionArgs): DriftConnectionArgs {
  const { hostKey, ...rest } = c;
  return hostKey === undefined ? rest : { ...rest, hostKey };
}

function fileEntry(resource: string, f: ManagedFileDeclaration): FileEntry {
  const secret = f.secret ?? false;
  if (secret && f.content !== undefined) throw new Error(`${resource}: ${f.path} is secret: its content is written by its step, not declared`);
  return withoutUndefined({
    path: f.path,
    mode: modeText(f.mode),
    secret,
    wantOwner: f.owner,
    content: secret ? undefined : f.content,
    contentHash: secret ? undefined : sha256Hex(f.content ?? ""),
    // In sync is what the program declares: a preview after a refresh shows drift going back to [].
    exists: true,
    drift: [],
  });
}

/** The files one step places on one host; see the module comment and managed-file.ts. */
export class ManagedFiles extends LoadedDynamicResource {
  declare readonly revision: pulumi.Output<number>;
  declare readonly files: pulumi.Output<FileEntryState[]>;
  /** On the host's first ManagedFiles: its units. */
  declare readonly units: pulumi.Output<UnitEntryState[] | undefined>;

  constructor(
    name: string,
    args: { host: string; step: string; connection: DriftConnectionArgs; files: ManagedFileDeclaration[]; units?: string[] },
    opts?: pulumi.CustomResourceOptions,
  ) {
    const props: Record<string, unknown> = {
      host: args.host,
      connection: connectionProps(args.connection),
      step: args.step,
      files: args.files.map((f) => fileEntry(name, f)),
      revision: undefined,
    };
    if (args.units?.length) {
      props.units = args.units.map((unit): UnitEntry => ({ unit, enabled: true, active: true, declaredEnabled: true, declaredActive: true, drift: [] }));
    }
    // A secret file's entry keeps the salt of its keyed hash: then the whole list is secret.
    const secretFiles = args.files.some((f) => f.secret) ? ["files"] : [];
    super(__filename, "managedFilesProvider", "ManagedFiles", name, props, { ...opts, additionalSecretOutputs: ["connection", ...secretFiles, ...(opts?.additionalSecretOutputs ?? [])] });
  }
}
