import type { ClusterModel } from "../../config";
import { hostRoute } from "../gateway";
import { addonImage } from "../images";
import { deployment, secret, secretEnv, service, type AddonPlan } from "../manifest";
import { CREDENTIALS, elasticsearchUrl, type LoggingSecrets } from "./elasticsearch";

/** Kibana behind a ClusterIP Service (and an HTTPRoute on the Gateway when a host name is configured). */
export function planKibana(model: ClusterModel, plan: AddonPlan, secrets: LoggingSecrets, elasticsearchReady: string[]): void {
  const ns = model.addons.logging.namespace;
  const cfg = model.addons.logging.kibana;
  plan.add(secret(ns, "kibana-encryption-key", { key: secrets.kibanaEncryptionKey }));
  const labels = { app: "kibana" };
  const kibana = plan.add(
    deployment(
      ns,
      "kibana",
      {
        replicas: 1,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            securityContext: { runAsUser: 1000, runAsNonRoot: true },
            containers: [
              {
                name: "kibana",
                image: addonImage(model, cfg.image),
                env: [
                  { name: "ELASTICSEARCH_HOSTS", value: `["${elasticsearchUrl(model)}"]` },
                  { name: "ELASTICSEARCH_USERNAME", value: "kibana_system" },
                  secretEnv("ELASTICSEARCH_PASSWORD", CREDENTIALS, "kibana-system-password"),
                  secretEnv("XPACK_ENCRYPTEDSAVEDOBJECTS_ENCRYPTIONKEY", "kibana-encryption-key", "key"),
                  ...(cfg.ingressHost ? [{ name: "SERVER_PUBLICBASEURL", value: `http://${cfg.ingressHost}` }] : []),
                ],
                ports: [{ name: "http", containerPort: 5601 }],
                // /api/status needs a login once security is on; the port opens when Kibana serves.
                readinessProbe: { tcpSocket: { port: "http" }, initialDelaySeconds: 20, periodSeconds: 10 },
                resources: { requests: { cpu: "100m", memory: "700Mi" }, limits: { memory: "1Gi" } },
              },
            ],
          },
        },
      },
      labels,
    ),
    elasticsearchReady,
  );
  plan.add(service(ns, "kibana", { selector: labels, ports: [{ name: "http", port: 5601, targetPort: "http" }] }, labels));
  if (cfg.ingressHost) {
    const route = hostRoute(ns, "kibana", cfg.ingressHost, "kibana", 5601);
    plan.add(route.manifest, [kibana], route.after);
  }
}
