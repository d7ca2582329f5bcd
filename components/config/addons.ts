import { z } from "zod";
import { cidr, image, ipv4, quantity } from "./fields";
import { isIPv4 } from "./net";

/** "10.20.0.200-10.20.0.220" (a CIDR is accepted by the union it is used in). */
const ipRange = () =>
  z.string().refine((v) => v.split("-").length === 2 && v.split("-").every(isIPv4), {
    error: (issue) => `${JSON.stringify(issue.input)} is not an address range (a CIDR or first-last, e.g. 10.0.0.200-10.0.0.220)`,
  });

/** A host name for an Ingress rule: lower-case DNS labels, at least two of them. */
const ingressHost = () =>
  z.string().refine((v) => v.length <= 253 && /^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(v), {
    error: (issue) => `${JSON.stringify(issue.input)} is not a DNS name for an Ingress rule (e.g. grafana.example.com)`,
  });

const absolutePath = () => z.string().regex(/^\/[^\s]*$/, "is not an absolute path");

export const cniSchema = z.strictObject({
  plugin: z.enum(["flannel", "calico"]).default("flannel"),
  flannel: z
    .strictObject({
      backend: z.enum(["vxlan", "host-gw", "wireguard"]).default("vxlan"),
      image: image().default("ghcr.io/flannel-io/flannel:v0.26.1"),
      cniPluginImage: image().default("ghcr.io/flannel-io/flannel-cni-plugin:v1.5.1-flannel2"),
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
      image: image().default("registry.k8s.io/metrics-server/metrics-server:v0.7.2"),
      /**
       * Skip verifying kubelet serving certificates. Off by default: kubelets then request serving certificates
       * signed by the cluster CA (serverTLSBootstrap) and kubelet-csr-approver approves the ones that match a node.
       */
      kubeletInsecureTls: z.boolean().default(false),
      /** Approves kubelet serving certificate requests whose names and addresses match a configured node. */
      csrApproverImage: image().default("ghcr.io/postfinance/kubelet-csr-approver:v1.2.2"),
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
          image: image().default("docker.elastic.co/elasticsearch/elasticsearch:8.15.3"),
          storageClass: z.string().optional(),
          storageSize: quantity().default("30Gi"),
          /** Container memory limit; the JVM heap is half of it, at most 31g (compressed object pointers). */
          memoryLimit: quantity().default("2Gi"),
        })
        .prefault({}),
      fluentBit: z.strictObject({ image: image().default("cr.fluentbit.io/fluent/fluent-bit:3.1.9") }).prefault({}),
      kibana: z
        .strictObject({
          image: image().default("docker.elastic.co/kibana/kibana:8.15.3"),
          /** Also publish Kibana through an Ingress (class "nginx") for this host name. */
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
          image: image().default("quay.io/prometheus/prometheus:v2.54.1"),
          retention: z.string().regex(/^\d+[hdwy]$/, "is not a retention like 15d").default("15d"),
          storageSize: quantity().default("50Gi"),
          storageClass: z.string().optional(),
        })
        .prefault({}),
      alertmanager: z.strictObject({ image: image().default("quay.io/prometheus/alertmanager:v0.27.0") }).prefault({}),
      nodeExporter: z.strictObject({ image: image().default("quay.io/prometheus/node-exporter:v1.8.2") }).prefault({}),
      kubeStateMetrics: z
        .strictObject({ image: image().default("registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.13.0") })
        .prefault({}),
      grafana: z
        .strictObject({
          image: image().default("docker.io/grafana/grafana:11.2.2"),
          /** Also publish Grafana through an Ingress (class "nginx") for this host name. */
          ingressHost: ingressHost().optional(),
        })
        .prefault({}),
    })
    .prefault({}),
  ingressNginx: z
    .strictObject({
      enabled: z.boolean().default(false),
      /** hostNetwork: a DaemonSet on nodes matching nodeSelector; loadBalancer: a Service of type LoadBalancer (MetalLB). */
      mode: z.enum(["hostNetwork", "loadBalancer"]).default("hostNetwork"),
      nodeSelector: z.record(z.string(), z.string()).default({}),
      image: image().default("registry.k8s.io/ingress-nginx/controller:v1.11.3"),
      /** Mark the "nginx" IngressClass as the cluster default. */
      defaultClass: z.boolean().default(true),
    })
    .prefault({}),
  metallb: z
    .strictObject({
      enabled: z.boolean().default(false),
      addresses: z.array(z.union([cidr(), ipRange()])).default([]),
      controllerImage: image().default("quay.io/metallb/controller:v0.14.8"),
      speakerImage: image().default("quay.io/metallb/speaker:v0.14.8"),
    })
    .prefault({}),
  storage: z
    .strictObject({
      /** A default StorageClass so StatefulSets can bind volumes (exactly one is marked default). */
      provisioner: z.enum(["none", "local-path", "nfs"]).default("local-path"),
      localPath: z
        .strictObject({
          image: image().default("docker.io/rancher/local-path-provisioner:v0.0.30"),
          /** Image of the short-lived pods that create and remove volume directories on the nodes. */
          helperImage: image().default("docker.io/library/busybox:1.36.1"),
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
  dashboard: z
    .strictObject({
      enabled: z.boolean().default(false),
      image: image().default("docker.io/kubernetesui/dashboard:v2.7.0"),
      metricsScraperImage: image().default("docker.io/kubernetesui/metrics-scraper:v1.0.8"),
      /** Also create an admin account whose token is a secret stack output. */
      adminAccount: z.boolean().default(false),
    })
    .prefault({}),
});

export type AddonsInput = z.output<typeof addonsSchema>;
