import type { ClusterModel } from "../../config";
import { AddonPlan, namespace, PRIVILEGED_NAMESPACE } from "../manifest";
import { planElasticsearch, type LoggingSecrets } from "./elasticsearch";
import { planFluentBit } from "./fluent-bit";
import { planKibana } from "./kibana";

export type { LoggingSecrets } from "./elasticsearch";

/**
 * EFK: Elasticsearch (one node), Fluent Bit on every node, Kibana. Fluent Bit and Kibana wait until
 * Elasticsearch is ready and its users exist. The nodes' vm.max_map_count is raised by the host layer.
 */
export function planLogging(model: ClusterModel, secrets: LoggingSecrets): AddonPlan {
  const plan = new AddonPlan("logging");
  // Fluent Bit reads host log directories.
  plan.add(namespace(model.addons.logging.namespace, PRIVILEGED_NAMESPACE));
  const es = planElasticsearch(model, plan, secrets);
  planFluentBit(model, plan, es.ready);
  planKibana(model, plan, secrets, es.ready);
  return plan;
}
