/**
 * The cluster model of the engine tier: one real test host with the runtime and a colocated
 * load balancer (colocated balancers need more than one control plane: cp2 and cp3 exist in
 * the model only). Shared by the Pulumi program and the test that drives it.
 */
import { modelFromObject, type ClusterModel } from "../../../components/config";
import { planCluster } from "../../../components/plan";
import type { StepSpec } from "../../../components/remote/step";

export interface EngineHost {
  name: string;
  address: string;
  port: number;
  /** cluster:mirrors.sandboxImage: changes containerd's config.toml and nothing else. */
  sandboxImage?: string;
}

export function engineModel(host: EngineHost, stackName: string): ClusterModel {
  return modelFromObject(
    {
      kubernetes: { version: "1.29.13" },
      ...(host.sandboxImage ? { mirrors: { sandboxImage: host.sandboxImage } } : {}),
      loadBalancer: { mode: "colocated", vip: "10.213.0.100", interface: "host0" },
      hosts: [
        { name: host.name, address: host.address, roles: ["control-plane"], ssh: { port: host.port } },
        { name: "cp2", address: "10.213.0.250", roles: ["control-plane"] },
        { name: "cp3", address: "10.213.0.251", roles: ["control-plane"] },
      ],
    },
    stackName,
  );
}

/** The host's steps the engine tier uses: runtime-install and runtime-config, keepalived-config. */
export function engineSteps(model: ClusterModel, hostName: string): { runtimeInstall: StepSpec; runtimeConfig: StepSpec; keepalivedConfig: StepSpec } {
  const plan = planCluster(model).steps;
  const stepOf = (name: string) => {
    const step = plan.find((s) => s.id === `${hostName}/${name}`);
    if (!step) throw new Error(`the plan has no step ${hostName}/${name}`);
    return step;
  };
  return { runtimeInstall: stepOf("runtime-install"), runtimeConfig: stepOf("runtime-config"), keepalivedConfig: stepOf("keepalived-config") };
}
