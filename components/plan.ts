import type { ClusterModel } from "./config";
import { planControlPlane } from "./control-plane/plan";
import { planEtcd } from "./etcd/plan";
import { planHosts } from "./host/plan";
import { planKubePackages } from "./kube-packages/plan";
import { planLoadBalancer } from "./load-balancer/plan";
import { bundleNodePrep } from "./remote/bundle";
import { checkPlan, type ClusterPlan, type StepSpec } from "./remote/step";
import { planRuntime } from "./runtime/plan";
import { planWorkers } from "./workers/plan";

/** A layer's contribution to the plan: its steps and the secrets its steps produce. */
export interface LayerPlan {
  steps: StepSpec[];
  outputSecrets?: Record<string, string>;
}

/**
 * Every remote step of the cluster, in dependency order. Pure: the Pulumi wiring,
 * the render tool and the benchmarks all read the same plan.
 */
export function planCluster(model: ClusterModel): ClusterPlan {
  const layers: LayerPlan[] = [
    { steps: planHosts(model) },
    { steps: planRuntime(model) },
    { steps: planKubePackages(model) },
    { steps: planLoadBalancer(model) },
    planEtcd(model),
    planControlPlane(model),
    planWorkers(model),
  ];
  const plan: ClusterPlan = {
    steps: layers.flatMap((l) => l.steps),
    outputSecrets: Object.assign({}, ...layers.map((l) => l.outputSecrets ?? {})),
  };
  checkPlan(plan);
  return plan;
}

/**
 * What `pulumi up` runs and `npm run render` writes: the plan with each host's preparation
 * chain as one node-prep step (components/remote/bundle.ts).
 */
export function planEngine(model: ClusterModel): ClusterPlan {
  return bundleNodePrep(planCluster(model));
}
