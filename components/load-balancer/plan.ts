import type { ClusterModel } from "../config";
import { osPrepId } from "../host/plan";
import { stepId, type StepSpec } from "../remote/step";
import { renderHaproxyStep, renderInstall, renderKeepalivedStep } from "./steps";

export const lbInstallId = (host: string) => stepId(host, "lb-install");
export const haproxyConfigId = (host: string) => stepId(host, "haproxy-config");
export const keepalivedConfigId = (host: string) => stepId(host, "keepalived-config");

/**
 * The steps `kubeadm init` must wait for: every balancer's keepalived, which itself waits for
 * that balancer's HAProxy and ends only once the VIP answers. Empty without a load balancer.
 */
export function loadBalancerReadyIds(model: ClusterModel): string[] {
  return model.loadBalancers.map((h) => keepalivedConfigId(h.name));
}

/**
 * Per balancer: packages and sysctl, then haproxy.cfg, then keepalived.conf. Three steps so a
 * change in the control planes re-runs only haproxy-config (a reload), and a VRRP change only
 * keepalived-config. Balancers configure in parallel.
 */
export function planLoadBalancer(model: ClusterModel): StepSpec[] {
  if (!model.loadBalancer.enabled) return [];
  return model.loadBalancers.flatMap((host): StepSpec[] => {
    const install = renderInstall(model, host);
    const haproxy = renderHaproxyStep(model, host);
    const keepalived = renderKeepalivedStep(model, host);
    return [
      {
        id: lbInstallId(host.name),
        host: host.name,
        layer: "load-balancer",
        description: "HAProxy, keepalived and net.ipv4.ip_nonlocal_bind",
        script: install.script,
        deleteScript: install.deleteScript,
        files: install.files,
        needs: [osPrepId(host.name)],
        secrets: [],
        timeouts: { create: "15m", update: "15m", delete: "10m" },
      },
      {
        id: haproxyConfigId(host.name),
        host: host.name,
        layer: "load-balancer",
        description: `haproxy.cfg: ${model.loadBalancer.vip}:${model.loadBalancer.port} to ${model.controlPlanes.length} API server(s), reloaded on change`,
        script: haproxy.script,
        deleteScript: haproxy.deleteScript,
        files: haproxy.files,
        units: ["haproxy.service"],
        needs: [lbInstallId(host.name)],
        secrets: [],
        timeouts: { create: "5m", update: "5m", delete: "5m" },
      },
      {
        id: keepalivedConfigId(host.name),
        host: host.name,
        layer: "load-balancer",
        description: `keepalived.conf: VRRP instance ${model.loadBalancer.virtualRouterId} holding ${model.loadBalancer.vip} on ${model.loadBalancer.interface}`,
        script: keepalived.script,
        deleteScript: keepalived.deleteScript,
        files: keepalived.files,
        units: ["keepalived.service"],
        needs: [haproxyConfigId(host.name)],
        secrets: keepalived.files.flatMap((f) => (f.secret ? [f.secret.name] : [])),
        timeouts: { create: "5m", update: "5m", delete: "5m" },
      },
    ];
  });
}
