import { z } from "zod";
import { cidr, image, ipv4, quantity } from "./fields";

const ipRange = () =>
  z.string().refine((v) => /^\d+\.\d+\.\d+\.\d+(\/\d+|-\d+\.\d+\.\d+\.\d+)$/.test(v), {
    error: (issue) => `${JSON.stringify(issue.input)} is not an address range (CIDR or first-last)`,
  });

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
      version: z.string().regex(/^v\d+\.\d+\.\d+$/, "is not a version like v3.28.2").default("v3.28.2"),
      encapsulation: z.enum(["IPIP", "IPIPCrossSubnet", "VXLAN", "VXLANCrossSubnet", "None"]).default("IPIP"),
      /** Registry + namespace of the calico images: <imagePrefix>/node:<version>. */
      imagePrefix: z.string().default("docker.io/calico"),
    })
    .prefault({}),
});

export const addonsSchema = z.strictObject({
  cni: cniSchema.prefault({}),
  metricsServer: z
    .strictObject({
      enabled: z.boolean().default(true),
      image: image().default("registry.k8s.io/metrics-server/metrics-server:v0.7.2"),
      /** Skip verifying kubelet serving certificates. Off by default; see docs for signed kubelet serving certificates. */
      kubeletInsecureTls: z.boolean().default(false),
      preferredAddressTypes: z.array(z.enum(["InternalIP", "ExternalIP", "Hostname", "InternalDNS", "ExternalDNS"])).min(1).default(["InternalIP", "ExternalIP", "Hostname"]),
    })
    .prefault({}),
  logging: z
    .strictObject({
      enabled: z.boolean().default(false),
      namespace: z.string().default("logging"),
      elasticsearch: z
        .strictObject({
          image: image().default("docker.elastic.co/elasticsearch/elasticsearch:8.15.3"),
          replicas: z.number().int().min(1).max(9).default(1),
          storageClass: z.string().optional(),
          storageSize: quantity().default("30Gi"),
          memoryLimit: quantity().default("2Gi"),
        })
        .prefault({}),
      fluentBit: z.strictObject({ image: image().default("cr.fluentbit.io/fluent/fluent-bit:3.1.9") }).prefault({}),
      kibana: z
        .strictObject({
          image: image().default("docker.elastic.co/kibana/kibana:8.15.3"),
          ingressHost: z.string().optional(),
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
          ingressHost: z.string().optional(),
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
      webhookCertgenImage: image().default("registry.k8s.io/ingress-nginx/kube-webhook-certgen:v1.4.4"),
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
          path: z.string().default("/opt/local-path-provisioner"),
        })
        .prefault({}),
      nfs: z
        .strictObject({
          server: ipv4().optional(),
          path: z.string().optional(),
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
