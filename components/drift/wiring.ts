/**
 * How the drift resources join the cluster graph (called from components/cluster.ts):
 *
 *   step.needs ──> ManagedFiles (the step's StepSpec.files) ──> step
 *
 * The step's command carries its ManagedFiles' `revision`, so a `pulumi up` that repaired a
 * file re-runs exactly the step that applies it, on that host. The host's first ManagedFiles
 * (its node-prep's) also lists every unit the host's steps keep running (StepSpec.units): a
 * unit stopped by hand is started again without re-running anything.
 */
import type * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { ClusterModel, HostModel } from "../config";
import { withoutPromiseStacks } from "../remote/declare";
import type { LayerName, StepSpec } from "../remote/step";
import { EtcdMembers, etcdMembersSource } from "./etcd-members";
import type { DriftConnectionArgs } from "./common";
import { ManagedFiles } from "./grouped";
import { runsWithSudo } from "../remote/invocation";

/** The drift resource of a step's files (the host's first one also holds the host's units). */
export const managedFilesName = (stepId: string) => `${stepId}/files`;
export const ETCD_MEMBERS_NAME = "etcd-members";

export interface DriftWiringArgs {
  hosts: ReadonlyMap<string, HostModel>;
  /** The connection each host's remote.Commands use. */
  connections: ReadonlyMap<string, command.types.input.remote.ConnectionArgs>;
  /** The steps, in plan order: the units each host's steps keep running go on its first ManagedFiles. */
  steps: readonly StepSpec[];
}

export class DriftWiring {
  /** Which step places each "<host><path>": a file has one owner. */
  private readonly placedBy = new Map<string, string>();
  /** Per host, the units its steps keep running; taken by the host's first ManagedFiles. */
  private readonly pendingUnits = new Map<string, string[]>();
  /** One connection value per host, shared by its resources (an Output per resource costs CPU at scale). */
  private readonly connections = new Map<string, DriftConnectionArgs>();

  constructor(private readonly args: DriftWiringArgs) {
    for (const step of args.steps) {
      const units = this.pendingUnits.get(step.host) ?? [];
      for (const unit of step.units ?? []) if (!units.includes(unit)) units.push(unit);
      this.pendingUnits.set(step.host, units);
    }
  }

  private connectionOf(hostName: string): DriftConnectionArgs {
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
      sudo: runsWithSudo(host.ssh.user),
    };
    this.connections.set(hostName, connection);
    return connection;
  }

  /**
   * The managed files of a step, declared after what the step needs; returns what the step
   * must wait for and the revision its command carries.
   */
  filesOf(spec: StepSpec, needs: pulumi.Resource[], parent: pulumi.Resource): { dependsOn: ManagedFiles[]; revisions: pulumi.Output<number>[] } {
    const units = this.pendingUnits.get(spec.host) ?? [];
    if (spec.files.length === 0 && units.length === 0) return { dependsOn: [], revisions: [] };
    this.pendingUnits.delete(spec.host);
    for (const f of spec.files) {
      const key = `${spec.host}${f.path}`;
      const earlier = this.placedBy.get(key);
      if (earlier) throw new Error(`plan: ${f.path} on ${spec.host} is placed by both ${earlier} and ${spec.id}`);
      this.placedBy.set(key, spec.id);
    }
    const files = withoutPromiseStacks(() => new ManagedFiles(
      managedFilesName(spec.id),
      {
        host: spec.host,
        step: spec.id,
        connection: this.connectionOf(spec.host),
        // A secret file's content arrives on the step's stdin: it is checked against the host's record instead.
        files: spec.files.map((f) => (f.secret ? { path: f.path, mode: f.mode, secret: true } : { path: f.path, mode: f.mode, content: f.content })),
        units,
      },
      { parent, dependsOn: needs },
    ));
    return { dependsOn: [files], revisions: [files.revision] };
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
