import { z } from "zod";
import { cidr, image, ipv4, quantity } from "./fields";
import { isIPv4 } from "./net";

/** "10.20.0.200-10.20.0.220" (a CIDR is accepted by the union it is used in). */
const ipRange = () =>
  z.string().refine((v) => v.split("-").length === 2 && v.split("-").every(isIPv4), {
    error: (issue) => `${JSON.stringify(issue.input)} is not an address range (a CIDR or first-last, e.g. 10.0.0.200-10.0.0.220)`,
  });

/** A host name for an HTTPRoute: lower-case DNS labels, at least two of them. */
const ingressHost = () =>
  z.string().refine((v) => v.length <= 253 && /^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(v), {
    error: (issue) => `${JSON.stringify(issue.input)} is not a DNS name for an HTTPRoute (e.g. grafana.example.com)`,
  });

/**
 * A key whose add-on upstream has retired and this program has removed: any value is refused with a message
 * naming the replacement, rather than the generic "unknown key".
 */
const retired = (message: string) =>
  z
    .unknown()
    .superRefine((value, ctx) => {
      if (value !== undefined) ctx.addIssue({ code: "custom", message });
    })
    .transform(() => undefined)
    .optional();

export const RETIRED_INGRESS_NGINX =
  "ingress-nginx is retired upstream (no releases or security fixes since March 2026) and was removed: use cluster:addons.gateway instead " +
  "(Traefik as the Gateway API implementation, with the same enabled, mode and nodeSelector settings) and move Ingress objects to HTTPRoutes; see docs/addons.md";
export const RETIRED_DASHBOARD =
  "the Kubernetes Dashboard is retired upstream and was removed: use cluster:addons.headlamp instead " +
  "(enabled; adminAccount for the admin token output, now headlampAdminToken); see docs/addons.md";

const absolutePath = () => z.string().regex(/^\/[^\s]*$/, "is not an absolute path");

export const cniSchema = z.strictObject({
  plugin: z.enum(["flannel", "calico"]).default("flannel"),
  flannel: z
    .strictObject({
      backend: z.enum(["vxlan", "host-gw", "wireguard"]).default("vxlan"),
      image: image().default("ghcr.io/flannel-io/flannel:v0.28.4"),
      cniPluginImage: image().default("ghcr.io/flannel-io/flannel-cni-plugin:v1.9.1-flannel1"),
    })
    .prefault({}),
  calico: z
    .strictObject({
      /** The objects (RBAC, CRD kinds, env) are those of the calico v3.28 manifest, so other minors are refused. */
      version: z.string().regex(/^v3\.28\.\d+$/, "is not a calico v3.28 release like v3.28.2 (the shipped objects follow that release's manifest)").default("v3.28.2"),
      encapsulation: z.enum(["IPIP", "IPIPCrossSubnet", "VXLAN", "VXLANCrossSubnet", "None"]).default("IPIP"),
      /** Registry + namespace of the calico images: <imagePrefix>/node:<version>. */
      imagePrefix: z.string().regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?(:\d{1,5})?(\/[a-z0-9._-]+)+$/, "is not a registry path like docker.io/calico").default("docker.io/calico"),
      /** Size of the per-node address blocks carved from the pod CIDR (calico's default: /26). */
      blockSize: z.number().int().min(20).max(32).default(26),
    })
    .prefault({}),
});

export const addonsSchema = z.strictObject({
  cni: cniSchema.prefault({}),
  metricsServer: z
    .strictObject({
      enabled: z.boolean().default(true),
      image: image().default("registry.k8s.io/metrics-server/metrics-server:v0.8.1"),
      /**
       * Skip verifying kubelet serving certificates. Off by default: kubelets then request serving certificates
       * signed by the cluster CA (serverTLSBootstrap) and kubelet-csr-approver approves the ones that match a node.
       */
      kubeletInsecureTls: z.boolean().default(false),
      /** Approves kubelet serving certificate requests whose names and addresses match a configured node. */
      csrApproverImage: image().default("ghcr.io/postfinance/kubelet-csr-approver:v1.2.15"),
      preferredAddressTypes: z
        .array(z.enum(["InternalIP", "ExternalIP", "Hostname", "InternalDNS", "ExternalDNS"]))
        .min(1)
        .default(["InternalIP", "ExternalIP", "Hostname"]),
    })
    .prefault({}),
  logging: z
    .strictObject({
      enabled: z.boolean().default(false),
      namespace: z.string().default("logging"),
      /**
       * One Elasticsearch node. A multi-node cluster needs transport TLS certificates from a shared CA, which this
       * program does not issue; use ECK or an external cluster for that.
       */
      elasticsearch: z
        .strictObject({
          image: image().default("docker.elastic.co/elasticsearch/elasticsearch:9.5.6"),
          storageClass: z.string().optional(),
          storageSize: quantity().default("30Gi"),
          /** Container memory limit; the JVM heap is half of it, at most 31g (compressed object pointers). */
          memoryLimit: quantity().default("2Gi"),
        })
        .prefault({}),
      fluentBit: z.strictObject({ image: image().default("cr.fluentbit.io/fluent/fluent-bit:5.2.0") }).prefault({}),
      kibana: z
        .strictObject({
          image: image().default("docker.elastic.co/kibana/kibana:9.5.6"),
          /** Also publish Kibana for this host name: an HTTPRoute on the gateway add-on's Gateway. */
          ingressHost: ingressHost().optional(),
        })
        .prefault({}),
    })
    .prefault({}),
  monitoring: z
    .strictObject({
      enabled: z.boolean().default(false),
      namespace: z.string().default("monitoring"),
      prometheus: z
        .strictObject({
          image: image().default("quay.io/prometheus/prometheus:v3.14.0"),
          retention: z.string().regex(/^\d+[hdwy]$/, "is not a retention like 15d").default("15d"),
          storageSize: quantity().default("50Gi"),
          storageClass: z.string().optional(),
        })
        .prefault({}),
      alertmanager: z.strictObject({ image: image().default("quay.io/prometheus/alertmanager:v0.35.1") }).prefault({}),
      nodeExporter: z.strictObject({ image: image().default("quay.io/prometheus/node-exporter:v1.12.1") }).prefault({}),
      kubeStateMetrics: z
        .strictObject({ image: image().default("registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.19.1") })
        .prefault({}),
      grafana: z
        .strictObject({
          image: image().default("docker.io/grafana/grafana:13.3.2"),
          /** Also publish Grafana for this host name: an HTTPRoute on the gateway add-on's Gateway. */
          ingressHost: ingressHost().optional(),
        })
        .prefault({}),
    })
    .prefault({}),
  /** Traefik as the Gateway API implementation: the standard-channel CRDs, GatewayClass "traefik" and one Gateway. */
  gateway: z
    .strictObject({
      enabled: z.boolean().default(false),
      /** hostNetwork: a DaemonSet on nodes matching nodeSelector; loadBalancer: a Service of type LoadBalancer (MetalLB). */
      mode: z.enum(["hostNetwork", "loadBalancer"]).default("hostNetwork"),
      nodeSelector: z.record(z.string(), z.string()).default({}),
      image: image().default("docker.io/library/traefik:v3.7.13"),
      /** A kubernetes.io/tls Secret in the gateway namespace: adds an HTTPS listener on port 443 terminating with it. */
      tlsSecretName: z.string().regex(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/, "is not a Secret name").optional(),
    })
    .prefault({}),
  ingressNginx: retired(RETIRED_INGRESS_NGINX),
  metallb: z
    .strictObject({
      enabled: z.boolean().default(false),
      addresses: z.array(z.union([cidr(), ipRange()])).default([]),
      controllerImage: image().default("quay.io/metallb/controller:v0.15.3"),
      speakerImage: image().default("quay.io/metallb/speaker:v0.15.3"),
    })
    .prefault({}),
  storage: z
    .strictObject({
      /** A default StorageClass so StatefulSets can bind volumes (exactly one is marked default). */
      provisioner: z.enum(["none", "local-path", "nfs"]).default("local-path"),
      localPath: z
        .strictObject({
          image: image().default("docker.io/rancher/local-path-provisioner:v0.0.36"),
          /** Image of the short-lived pods that create and remove volume directories on the nodes. */
          helperImage: image().default("docker.io/library/busybox:1.37.0"),
          path: absolutePath().default("/opt/local-path-provisioner"),
        })
        .prefault({}),
      nfs: z
        .strictObject({
          server: ipv4().optional(),
          path: absolutePath().optional(),
          image: image().default("registry.k8s.io/sig-storage/nfs-subdir-external-provisioner:v4.0.2"),
        })
        .prefault({}),
    })
    .prefault({}),
  /** Headlamp (SIG UI), the Kubernetes Dashboard's successor: read-only unless adminAccount is set. */
  headlamp: z
    .strictObject({
      enabled: z.boolean().default(false),
      image: image().default("ghcr.io/headlamp-k8s/headlamp:v0.45.0"),
      /** Also create an admin account bound to cluster-admin whose token is the secret stack output headlampAdminToken. */
      adminAccount: z.boolean().default(false),
    })
    .prefault({}),
  dashboard: retired(RETIRED_DASHBOARD),
});

export type AddonsInput = z.output<typeof addonsSchema>;
