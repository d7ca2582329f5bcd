/**
 * How the drift resources join the cluster graph (called from components/cluster.ts):
 *
 *   step.needs ──> ManagedFile (one per StepSpec.files entry) ──> step ──> ManagedUnit (StepSpec.units)
 *
 * The step's triggers include each of its files' `revision`, so a `pulumi up` that repaired a
 * file re-runs exactly the step that applies it, on that host; a unit stopped by hand is
 * started by its ManagedUnit without re-running anything.
 */
import type * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { ClusterModel, HostModel } from "../config";
import { withoutPromiseStacks } from "../remote/declare";
import type { LayerName, StepSpec } from "../remote/step";
import { EtcdMembers, etcdMembersSource } from "./etcd-members";
import { ManagedFile, type ManagedFileArgs } from "./managed-file";
import { ManagedUnit } from "./managed-unit";

export const managedFileName = (host: string, path: string) => `${host}${path}`;
export const managedUnitName = (host: string, unit: string) => `${host}/unit:${unit}`;
export const ETCD_MEMBERS_NAME = "etcd-members";

export interface DriftWiringArgs {
  hosts: ReadonlyMap<string, HostModel>;
  /** The connection each host's remote.Commands use. */
  connections: ReadonlyMap<string, command.types.input.remote.ConnectionArgs>;
}

export class DriftWiring {
  private readonly files = new Map<string, { step: string; file: ManagedFile }>();
  private readonly units = new Map<string, { host: string; unit: string; parent: pulumi.Resource; steps: pulumi.Resource[] }>();
  /** One connection value per host, shared by its resources (an Output per resource costs CPU at scale). */
  private readonly connections = new Map<string, ManagedFileArgs["connection"]>();

  constructor(private readonly args: DriftWiringArgs) {}

  private connectionOf(hostName: string): ManagedFileArgs["connection"] {
    const known = this.connections.get(hostName);
    if (known) return known;
    const host = this.args.hosts.get(hostName);
    const c = this.args.connections.get(hostName);
    if (!host || !c) throw new Error(`drift: no connection for host ${hostName}`);
    const connection = {
      address: c.host,
      port: c.port ?? 22,
      user: c.user ?? "root",
      privateKey: pulumi.secret(pulumi.output(c.privateKey).apply((k) => k ?? "")),
      hostKey: c.hostKey,
      sudo: host.ssh.user !== "root",
    };
    this.connections.set(hostName, connection);
    return connection;
  }

  /**
   * The managed files of a step, declared after what the step needs; returns what the step
   * must wait for and the revisions its triggers carry.
   */
  filesOf(spec: StepSpec, needs: pulumi.Resource[], parent: pulumi.Resource): { dependsOn: ManagedFile[]; revisions: pulumi.Output<number>[] } {
    const declared: ManagedFile[] = [];
    for (const f of spec.files) {
      const name = managedFileName(spec.host, f.path);
      const earlier = this.files.get(name);
      if (earlier) throw new Error(`plan: ${f.path} on ${spec.host} is placed by both ${earlier.step} and ${spec.id}`);
      const file = withoutPromiseStacks(() => new ManagedFile(
        name,
        {
          host: spec.host,
          connection: this.connectionOf(spec.host),
          path: f.path,
          mode: f.mode,
          // A secret file's content arrives on the step's stdin: it is checked against the host's record instead.
          ...(f.secret ? { secret: true } : { content: f.content }),
        },
        { parent, dependsOn: needs },
      ));
      this.files.set(name, { step: spec.id, file });
      declared.push(file);
    }
    return { dependsOn: declared, revisions: declared.map((f) => f.revision) };
  }

  /** Notes the units a step keeps running; `declareUnits` makes one ManagedUnit per host and unit. */
  unitsOf(spec: StepSpec, step: pulumi.Resource, parent: pulumi.Resource): void {
    for (const unit of spec.units ?? []) {
      const name = managedUnitName(spec.host, unit);
      const entry = this.units.get(name) ?? { host: spec.host, unit, parent, steps: [] };
      entry.steps.push(step);
      this.units.set(name, entry);
    }
  }

  /** One ManagedUnit per host and unit, after every step that lists it. */
  declareUnits(): ManagedUnit[] {
    return [...this.units.entries()].map(
      ([name, u]) =>
        withoutPromiseStacks(() => new ManagedUnit(name, { host: u.host, connection: this.connectionOf(u.host), unit: u.unit }, { parent: u.parent, dependsOn: u.steps })),
    );
  }

  /**
   * The read-only etcd member view, once the members exist: after every etcd step (external)
   * or every control-plane step (stacked, kubeadm runs etcd). None while those layers have no steps.
   */
  declareEtcdMembers(model: ClusterModel, plan: readonly StepSpec[], steps: Readonly<Record<string, pulumi.Resource>>, layers: Readonly<Record<LayerName, pulumi.Resource>>): EtcdMembers | undefined {
    const layer: LayerName = model.etcd.topology === "external" ? "etcd" : "control-plane";
    const after = plan.filter((s) => s.layer === layer).map((s) => steps[s.id]);
    const source = etcdMembersSource(model);
    if (!source || after.length === 0) return undefined;
    return new EtcdMembers(
      ETCD_MEMBERS_NAME,
      { host: source.via.name, connection: this.connectionOf(source.via.name), listScript: source.listScript, etcdctl: source.etcdctl, expected: source.expected },
      { parent: layers[layer], dependsOn: after },
    );
  }
}
