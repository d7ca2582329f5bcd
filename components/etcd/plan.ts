import type { ClusterModel, HostModel } from "../config";
import { osPrepId } from "../host/plan";
import { kubePackagesId } from "../kube-packages/plan";
import type { LayerPlan } from "../plan";
import { stepId, type StepSpec } from "../remote/step";
import { renderBackupStep } from "./backup";
import { renderInstallStep } from "./install";
import { memberConfig, renderMemberStep } from "./member";
import {
  APISERVER_CLIENT_SECRET,
  KUBEADM_ETCD_CLIENT,
  memberBundleSecret,
  renderApiserverClientCertStep,
  renderCaStep,
  renderClientCertsStep,
  renderMemberCertsStep,
} from "./pki";

export const etcdInstallId = (host: string) => stepId(host, "etcd-install");
export const etcdCaId = (first: string) => stepId(first, "etcd-ca");
export const etcdMemberCertsId = (first: string, member: string) => stepId(first, `etcd-certs-${member}`);
export const etcdApiserverClientCertId = (first: string) => stepId(first, "etcd-apiserver-client-cert");
export const etcdMemberId = (host: string) => stepId(host, "etcd-member");
export const etcdBackupId = (host: string) => stepId(host, "etcd-backup");
/** A control plane's copy of the API server's etcd client certificate; kubeadm init and joins need it. */
export const etcdClientCertsId = (host: string) => stepId(host, "etcd-client-certs");

/** What kubeadm's ClusterConfiguration etcd.external needs, or undefined with stacked etcd. */
export function externalEtcd(model: ClusterModel): { endpoints: string[]; caFile: string; certFile: string; keyFile: string } | undefined {
  if (model.etcd.topology !== "external") return undefined;
  return {
    endpoints: model.etcdMembers.map((m) => memberConfig(model, m).clientUrl),
    ...KUBEADM_ETCD_CLIENT,
  };
}

/**
 * What kubeadm init must wait for: every member step, each of which ends only when its
 * member serves quorum reads (the last one in the chain: the whole cluster is up).
 */
export function etcdReadyIds(model: ClusterModel): string[] {
  return model.etcdMembers.map((m) => etcdMemberId(m.name));
}

const TIMEOUTS = {
  install: { create: "15m", update: "15m", delete: "10m" },
  pki: { create: "5m", update: "5m", delete: "2m" },
  member: { create: "10m", update: "10m", delete: "5m" },
  small: { create: "3m", update: "3m", delete: "3m" },
};

/**
 * External etcd: install on every member (in parallel), the CA and certificates on the
 * first member, members chained one at a time (each membership change waits for the one
 * before), a snapshot timer per member, and the API server's client certificate on every
 * control plane. Stacked etcd: nothing here, kubeadm runs etcd.
 */
export function planEtcd(model: ClusterModel): LayerPlan {
  if (model.etcd.topology !== "external" || model.etcdMembers.length === 0) return { steps: [] };
  const first = model.etcdMembers[0];
  const step = (host: HostModel, id: string, description: string, rendered: { script: string; deleteScript: string; files?: StepSpec["files"] }, rest: Partial<StepSpec> & Pick<StepSpec, "needs" | "timeouts">): StepSpec => ({
    id,
    host: host.name,
    layer: "etcd",
    description,
    script: rendered.script,
    deleteScript: rendered.deleteScript,
    files: rendered.files ?? [],
    secrets: [],
    ...rest,
  });

  const steps: StepSpec[] = [];
  const outputSecrets: Record<string, string> = {};
  for (const member of model.etcdMembers) {
    steps.push(
      step(member, etcdInstallId(member.name), `etcd binaries (${model.etcd.source}) and the etcd user`, renderInstallStep(model, member), {
        // One package install at a time per host: on a node, after the Kubernetes packages.
        needs: [member.isNode ? kubePackagesId(member.name) : osPrepId(member.name)],
        timeouts: TIMEOUTS.install,
      }),
    );
  }
  steps.push(
    step(first, etcdCaId(first.name), "the etcd CA (its key stays on this host)", renderCaStep(model), {
      // After the install: both use the package manager.
      needs: [etcdInstallId(first.name)],
      timeouts: TIMEOUTS.pki,
    }),
  );
  for (const member of model.etcdMembers) {
    const id = etcdMemberCertsId(first.name, member.name);
    outputSecrets[memberBundleSecret(member)] = id;
    steps.push(
      step(first, id, `server and peer certificates of ${member.name}`, renderMemberCertsStep(model, member), {
        needs: [etcdCaId(first.name)],
        output: "secret",
        timeouts: TIMEOUTS.pki,
      }),
    );
  }
  outputSecrets[APISERVER_CLIENT_SECRET] = etcdApiserverClientCertId(first.name);
  steps.push(
    step(first, etcdApiserverClientCertId(first.name), "the API server's etcd client certificate", renderApiserverClientCertStep(model), {
      needs: [etcdCaId(first.name)],
      output: "secret",
      timeouts: TIMEOUTS.pki,
    }),
  );

  let previous: string | undefined;
  for (const member of model.etcdMembers) {
    const id = etcdMemberId(member.name);
    const certs = etcdMemberCertsId(first.name, member.name);
    steps.push(
      step(member, id, "etcd member: certificates, unit, bootstrap or join (one member at a time), health", renderMemberStep(model, member), {
        needs: [etcdInstallId(member.name), certs, ...(previous ? [previous] : [])],
        secrets: [memberBundleSecret(member)],
        units: ["etcd.service"],
        timeouts: TIMEOUTS.member,
      }),
    );
    previous = id;
  }
  if (model.etcd.backup.enabled) {
    for (const member of model.etcdMembers) {
      steps.push(
        step(member, etcdBackupId(member.name), `etcd snapshots (${model.etcd.backup.schedule}, ${model.etcd.backup.retention} kept)`, renderBackupStep(model, member), {
          needs: [etcdMemberId(member.name)],
          timeouts: TIMEOUTS.small,
        }),
      );
    }
  }
  for (const cp of model.controlPlanes) {
    steps.push(
      step(cp, etcdClientCertsId(cp.name), "the API server's etcd client certificate where kubeadm expects it", renderClientCertsStep(cp), {
        needs: [osPrepId(cp.name), etcdApiserverClientCertId(first.name)],
        secrets: [APISERVER_CLIENT_SECRET],
        timeouts: TIMEOUTS.small,
      }),
    );
  }
  return { steps, outputSecrets };
}
