import type { ClusterModel, HostModel } from "../config";
import { script } from "../remote/shell";

const BEGIN = "# BEGIN kubeadm-on-pulumi";
const END = "# END kubeadm-on-pulumi";

/**
 * The /etc/hosts entries a host needs: itself, every control plane, the endpoint name, and
 * the etcd members for hosts that talk to etcd. Workers are not listed on other hosts, so
 * adding a worker touches no other host.
 */
export function hostsEntries(model: ClusterModel, host: HostModel): Array<{ address: string; names: string[] }> {
  const entries = new Map<string, Set<string>>();
  const add = (address: string, name: string) => {
    if (!entries.has(address)) entries.set(address, new Set());
    entries.get(address)!.add(name);
  };
  add(host.internalAddress, host.name);
  for (const cp of model.controlPlanes) add(cp.internalAddress, cp.name);
  if (host.isControlPlane || host.isEtcd) for (const member of model.etcdMembers) add(member.internalAddress, member.name);
  if (model.endpoint.isName) add(model.endpoint.address, model.endpoint.host);
  return [...entries].map(([address, names]) => ({ address, names: [...names] }));
}

export function renderHostsBlock(model: ClusterModel, host: HostModel): string {
  const lines = hostsEntries(model, host).map((e) => `${e.address}\t${e.names.join(" ")}`);
  return [BEGIN, ...lines, END].join("\n") + "\n";
}

const STRIP_BLOCK = `awk -v b='${BEGIN}' -v e='${END}' '$0==b{skip=1;next} $0==e{skip=0;next} !skip' /etc/hosts`;

/** Replaces the managed block in /etc/hosts (the rest of the file is the host's own). */
export function renderHostsFile(model: ClusterModel, host: HostModel): { script: string; deleteScript: string } {
  const block = renderHostsBlock(model, host);
  return {
    script: script(
      `/etc/hosts entries on ${host.name}`,
      [
        `block=$(cat <<'KOP_HOSTS'\n${block}KOP_HOSTS\n)`,
        `{ ${STRIP_BLOCK}; printf '%s\\n' "$block"; } >/etc/hosts.kop-new`,
        "if cmp -s /etc/hosts.kop-new /etc/hosts; then rm -f /etc/hosts.kop-new; else cat /etc/hosts.kop-new >/etc/hosts; rm -f /etc/hosts.kop-new; fi",
      ].join("\n"),
    ),
    deleteScript: script(
      `remove the kubeadm-on-pulumi entries from /etc/hosts on ${host.name}`,
      `${STRIP_BLOCK} >/etc/hosts.kop-new\nif ! cmp -s /etc/hosts.kop-new /etc/hosts; then cat /etc/hosts.kop-new >/etc/hosts; fi\nrm -f /etc/hosts.kop-new`,
    ),
  };
}
