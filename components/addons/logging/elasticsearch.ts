import type * as pulumi from "@pulumi/pulumi";
import type { ClusterModel } from "../../config";
import { addonImage } from "../images";
import { job, secret, secretEnv, service, statefulSet, type AddonPlan } from "../manifest";
import { elasticsearchHeapMiB } from "../quantity";

export interface LoggingSecrets {
  /** The `elastic` superuser: for people (Kibana login) and the setup Job only. */
  elasticPassword: pulumi.Input<string>;
  /** Kibana's own connection user (Elasticsearch 8 refuses `elastic` for it). */
  kibanaSystemPassword: pulumi.Input<string>;
  /** Fluent Bit's user: may only create log indices and write documents. */
  fluentBitPassword: pulumi.Input<string>;
  /** Kibana's key for encrypted saved objects (alerting rules, ...): 32 characters, stable across restarts. */
  kibanaEncryptionKey: pulumi.Input<string>;
}

export const CREDENTIALS = "elasticsearch-credentials";
export const FLUENT_BIT_USER = "fluent-bit";

export const elasticsearchUrl = (model: ClusterModel) => `http://elasticsearch.${model.addons.logging.namespace}.svc:9200`;

/** Role of the Fluent Bit user: create the daily logstash-* indices and append documents, nothing else. */
export const FLUENT_BIT_ROLE = {
  cluster: ["monitor"],
  indices: [{ names: ["logstash-*"], privileges: ["create_index", "create_doc", "auto_configure"] }],
};

/**
 * The setup Job's script: waits for the cluster, then sets kibana_system's password and creates Fluent Bit's
 * role and user. Every call is a PUT/POST of the full state, so re-runs converge. Passwords go to curl on stdin.
 */
export function elasticsearchSetupScript(model: ClusterModel): string {
  return [
    "set -eu",
    `es=${elasticsearchUrl(model)}`,
    'auth="elastic:${ELASTIC_PASSWORD}"',
    "json() { curl -fsS -u \"$auth\" -H 'Content-Type: application/json' \"$@\" -d @- >/dev/null; }",
    'until curl -fsS -u "$auth" "$es/_cluster/health?wait_for_status=yellow&timeout=5s" >/dev/null; do echo "waiting for Elasticsearch"; sleep 5; done',
    `printf '{"password":"%s"}' "$KIBANA_SYSTEM_PASSWORD" | json -X POST "$es/_security/user/kibana_system/_password"`,
    `printf '%s' '${JSON.stringify(FLUENT_BIT_ROLE)}' | json -X PUT "$es/_security/role/fluent-bit-writer"`,
    `printf '{"password":"%s","roles":["fluent-bit-writer"]}' "$FLUENT_BIT_PASSWORD" | json -X PUT "$es/_security/user/${FLUENT_BIT_USER}"`,
    'echo "users and roles are in place"',
  ].join("\n");
}

/** One Elasticsearch node (StatefulSet with a volume), its Services, credentials and the setup Job. Returns the keys others wait for. */
export function planElasticsearch(model: ClusterModel, plan: AddonPlan, secrets: LoggingSecrets): { ready: string[] } {
  const ns = model.addons.logging.namespace;
  const cfg = model.addons.logging.elasticsearch;
  const heap = elasticsearchHeapMiB(cfg.memoryLimit);
  plan.add(
    secret(ns, CREDENTIALS, {
      "elastic-password": secrets.elasticPassword,
      "kibana-system-password": secrets.kibanaSystemPassword,
      "fluent-bit-password": secrets.fluentBitPassword,
    }),
  );
  const labels = { app: "elasticsearch" };
  plan.add(service(ns, "elasticsearch", { selector: labels, ports: [{ name: "http", port: 9200, targetPort: "http" }] }, labels));
  plan.add(
    service(
      ns,
      "elasticsearch-headless",
      { clusterIP: "None", publishNotReadyAddresses: true, selector: labels, ports: [{ name: "http", port: 9200 }, { name: "transport", port: 9300 }] },
      labels,
    ),
  );
  const env = (name: string, value: string) => ({ name, value });
  const sts = plan.add(
    statefulSet(
      ns,
      "elasticsearch",
      {
        serviceName: "elasticsearch-headless",
        replicas: 1,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            // The image runs as uid 1000; the volume must be writable for it.
            securityContext: { fsGroup: 1000, runAsUser: 1000, runAsNonRoot: true },
            containers: [
              {
                name: "elasticsearch",
                image: addonImage(model, cfg.image),
                env: [
                  env("discovery.type", "single-node"),
                  env("cluster.name", `${model.name}-logs`),
                  { name: "node.name", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
                  env("ES_JAVA_OPTS", `-Xms${heap}m -Xmx${heap}m`),
                  secretEnv("ELASTIC_PASSWORD", CREDENTIALS, "elastic-password"),
                  env("xpack.security.enabled", "true"),
                  // Inside the cluster network only; Kibana and Fluent Bit authenticate with their own users.
                  env("xpack.security.http.ssl.enabled", "false"),
                  env("xpack.security.transport.ssl.enabled", "false"),
                  env("xpack.ml.enabled", "false"),
                ],
                ports: [
                  { name: "http", containerPort: 9200 },
                  { name: "transport", containerPort: 9300 },
                ],
                resources: { requests: { cpu: "500m", memory: cfg.memoryLimit }, limits: { memory: cfg.memoryLimit } },
                readinessProbe: {
                  exec: { command: ["sh", "-c", 'curl -fsS -u "elastic:${ELASTIC_PASSWORD}" "http://127.0.0.1:9200/_cluster/health?wait_for_status=yellow&timeout=2s" >/dev/null'] },
                  initialDelaySeconds: 20,
                  periodSeconds: 10,
                  timeoutSeconds: 5,
                },
                volumeMounts: [{ name: "data", mountPath: "/usr/share/elasticsearch/data" }],
              },
            ],
          },
        },
        volumeClaimTemplates: [
          {
            metadata: { name: "data" },
            spec: {
              accessModes: ["ReadWriteOnce"],
              ...(cfg.storageClass ? { storageClassName: cfg.storageClass } : {}),
              resources: { requests: { storage: cfg.storageSize } },
            },
          },
        ],
      },
      labels,
    ),
  );
  const setup = plan.add(
    job(ns, "elasticsearch-setup", {
      backoffLimit: 10,
      activeDeadlineSeconds: 900,
      template: {
        metadata: { labels: { app: "elasticsearch-setup" } },
        spec: {
          restartPolicy: "OnFailure",
          containers: [
            {
              name: "setup",
              // The Elasticsearch image has curl; no extra image to mirror.
              image: addonImage(model, cfg.image),
              command: ["bash", "-c", elasticsearchSetupScript(model)],
              env: [
                secretEnv("ELASTIC_PASSWORD", CREDENTIALS, "elastic-password"),
                secretEnv("KIBANA_SYSTEM_PASSWORD", CREDENTIALS, "kibana-system-password"),
                secretEnv("FLUENT_BIT_PASSWORD", CREDENTIALS, "fluent-bit-password"),
              ],
              securityContext: { runAsUser: 1000, runAsNonRoot: true, allowPrivilegeEscalation: false },
            },
          ],
        },
      },
    }),
    [sts, `Service/${ns}/elasticsearch`],
  );
  return { ready: [sts, setup] };
}
