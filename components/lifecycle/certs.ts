import type { ClusterModel } from "../config";
import { runsWithSudo } from "../remote/invocation";

/**
 * One command per control plane that reports its certificates' expiry (each control plane has
 * its own API server, etcd and kubeconfig certificates). Exported by index.ts; docs/lifecycle.md
 * describes renewal.
 */
export function certificateExpiryCommands(model: ClusterModel): Record<string, string> {
  return Object.fromEntries(
    model.controlPlanes.map((cp) => {
      const sudo = runsWithSudo(cp.ssh.user) ? "sudo " : "";
      const port = cp.ssh.port === 22 ? "" : `-p ${cp.ssh.port} `;
      return [cp.name, `ssh ${port}${cp.ssh.user}@${cp.address} ${sudo}kubeadm certs check-expiration`];
    }),
  );
}
