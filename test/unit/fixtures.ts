import { modelFromObject, type ClusterModel } from "../../components/config";

/** A valid HA config section to mutate in tests (namespace stripped). */
export function haSection(workers = 3): Record<string, any> {
  return {
    kubernetes: { version: "1.29.13" },
    controlPlaneEndpoint: { host: "k8s-api.test" },
    loadBalancer: { mode: "dedicated", vip: "10.0.0.100" },
    etcd: { topology: "stacked" },
    hosts: [
      { name: "lb1", address: "10.0.0.5", roles: ["load-balancer"] },
      { name: "lb2", address: "10.0.0.6", roles: ["load-balancer"] },
      { name: "cp1", address: "10.0.0.11", roles: ["control-plane"] },
      { name: "cp2", address: "10.0.0.12", roles: ["control-plane"] },
      { name: "cp3", address: "10.0.0.13", roles: ["control-plane"] },
      ...Array.from({ length: workers }, (_, i) => ({
        name: `w${i + 1}`,
        address: `10.0.${1 + Math.floor(i / 200)}.${10 + (i % 200)}`,
        roles: ["worker"],
      })),
    ],
  };
}

export function devSection(): Record<string, any> {
  return {
    kubernetes: { version: "1.29.13" },
    hosts: [
      { name: "cp1", address: "10.0.0.11", roles: ["control-plane"] },
      { name: "w1", address: "10.0.0.21", roles: ["worker"] },
    ],
  };
}

export function model(section: Record<string, any>): ClusterModel {
  return modelFromObject(section);
}

/** Problems of an invalid section, as "key: message" lines. */
export function problemsOf(section: Record<string, any>): string[] {
  try {
    modelFromObject(section);
  } catch (e) {
    const problems = (e as { problems?: { key: string; message: string }[] }).problems;
    if (!problems) throw e;
    return problems.map((p) => `${p.key}: ${p.message}`);
  }
  throw new Error("expected the config to be rejected");
}
