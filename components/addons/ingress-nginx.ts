import type { input } from "@pulumi/kubernetes/types";
import type { ClusterModel } from "../config";
import { addonImage } from "./images";
import { METALLB_POOL } from "./metallb";
import {
  AddonPlan,
  clusterRole,
  clusterRoleBinding,
  configMap,
  daemonSet,
  deployment,
  fieldEnv,
  ingressClass,
  LINUX_ONLY,
  namespace,
  PRIVILEGED_NAMESPACE,
  role,
  roleBinding,
  service,
  serviceAccount,
} from "./manifest";

export const INGRESS_NAMESPACE = "ingress-nginx";
const CONTROLLER = "ingress-nginx-controller";

/**
 * ingress-nginx v1.11 as the "nginx" IngressClass. hostNetwork mode: a DaemonSet on the nodes matching
 * nodeSelector, serving ports 80/443 of those nodes; loadBalancer mode: a Deployment behind a Service of type
 * LoadBalancer (an address from MetalLB). The admission webhook is left out: its certificate is patched into
 * the webhook configuration by Jobs at run time, which Pulumi would then see as drift.
 */
export function planIngressNginx(model: ClusterModel): AddonPlan {
  const ns = INGRESS_NAMESPACE;
  const cfg = model.addons.ingressNginx;
  const hostNetwork = cfg.mode === "hostNetwork";
  const plan = new AddonPlan("ingress-nginx");
  plan.add(namespace(ns, hostNetwork ? PRIVILEGED_NAMESPACE : undefined));
  plan.add(serviceAccount(ns, "ingress-nginx"));
  plan.add(configMap(ns, CONTROLLER, { "allow-snippet-annotations": "false" }));
  const watch = ["get", "list", "watch"];
  plan.add(
    clusterRole("ingress-nginx", [
      { apiGroups: [""], resources: ["configmaps", "endpoints", "nodes", "pods", "secrets", "namespaces"], verbs: ["list", "watch"] },
      { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["list", "watch"] },
      { apiGroups: [""], resources: ["nodes"], verbs: ["get"] },
      { apiGroups: [""], resources: ["services"], verbs: watch },
      { apiGroups: ["networking.k8s.io"], resources: ["ingresses", "ingressclasses"], verbs: watch },
      { apiGroups: ["networking.k8s.io"], resources: ["ingresses/status"], verbs: ["update"] },
      { apiGroups: [""], resources: ["events"], verbs: ["create", "patch"] },
      { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: watch },
    ]),
  );
  plan.add(
    role(ns, "ingress-nginx", [
      { apiGroups: [""], resources: ["namespaces"], verbs: ["get"] },
      { apiGroups: [""], resources: ["configmaps", "pods", "secrets", "endpoints", "services"], verbs: watch },
      { apiGroups: ["networking.k8s.io"], resources: ["ingresses", "ingressclasses"], verbs: watch },
      { apiGroups: ["networking.k8s.io"], resources: ["ingresses/status"], verbs: ["update"] },
      { apiGroups: ["coordination.k8s.io"], resources: ["leases"], resourceNames: ["ingress-nginx-leader"], verbs: ["get", "update"] },
      { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["create"] },
      { apiGroups: [""], resources: ["events"], verbs: ["create", "patch"] },
      { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: watch },
    ]),
  );
  plan.add(clusterRoleBinding("ingress-nginx", "ingress-nginx", ns, ["ingress-nginx"]), ["ClusterRole/ingress-nginx"]);
  plan.add(roleBinding(ns, "ingress-nginx", { kind: "Role", name: "ingress-nginx" }, { namespace: ns, names: ["ingress-nginx"] }), [`Role/${ns}/ingress-nginx`]);
  plan.add(ingressClass("nginx", "k8s.io/ingress-nginx", cfg.defaultClass));

  const labels = { "app.kubernetes.io/name": "ingress-nginx", "app.kubernetes.io/component": "controller" };
  const args = [
    "/nginx-ingress-controller",
    "--election-id=ingress-nginx-leader",
    "--controller-class=k8s.io/ingress-nginx",
    "--ingress-class=nginx",
    `--configmap=$(POD_NAMESPACE)/${CONTROLLER}`,
    // Ingress status shows where clients connect: the Service's address, or the serving nodes' addresses.
    hostNetwork ? "--report-node-internal-ip-address" : `--publish-service=$(POD_NAMESPACE)/${CONTROLLER}`,
  ];
  const probe = (path: string) => ({ httpGet: { path, port: 10254, scheme: "HTTP" }, initialDelaySeconds: 10, periodSeconds: 10, timeoutSeconds: 1, failureThreshold: 5 });
  const podSpec: input.core.v1.PodSpec = {
    serviceAccountName: "ingress-nginx",
    nodeSelector: { ...LINUX_ONLY, ...cfg.nodeSelector },
    terminationGracePeriodSeconds: 300,
    ...(hostNetwork ? { hostNetwork: true, dnsPolicy: "ClusterFirstWithHostNet" } : { dnsPolicy: "ClusterFirst" }),
    containers: [
      {
        name: "controller",
        image: addonImage(model, cfg.image),
        args,
        env: [fieldEnv("POD_NAME", "metadata.name"), fieldEnv("POD_NAMESPACE", "metadata.namespace"), { name: "LD_PRELOAD", value: "/usr/local/lib/libmimalloc.so" }],
        lifecycle: { preStop: { exec: { command: ["/wait-shutdown"] } } },
        ports: [
          { name: "http", containerPort: 80, protocol: "TCP" },
          { name: "https", containerPort: 443, protocol: "TCP" },
        ],
        livenessProbe: probe("/healthz"),
        readinessProbe: probe("/healthz"),
        resources: { requests: { cpu: "100m", memory: "90Mi" } },
        securityContext: {
          runAsNonRoot: true,
          runAsUser: 101,
          runAsGroup: 82,
          allowPrivilegeEscalation: false,
          capabilities: { drop: ["ALL"], add: ["NET_BIND_SERVICE"] },
          readOnlyRootFilesystem: false,
          seccompProfile: { type: "RuntimeDefault" },
        },
      },
    ],
  };
  const template = { metadata: { labels }, spec: podSpec };
  if (hostNetwork) {
    plan.add(daemonSet(ns, CONTROLLER, { selector: { matchLabels: labels }, updateStrategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 1 } }, template }, labels));
  } else {
    const controller = plan.add(deployment(ns, CONTROLLER, { replicas: 2, selector: { matchLabels: labels }, minReadySeconds: 0, template }, labels));
    plan.add(
      service(
        ns,
        CONTROLLER,
        {
          type: "LoadBalancer",
          // Keeps the client's source address; only nodes with a controller pod answer for the address.
          externalTrafficPolicy: "Local",
          selector: labels,
          ports: [
            { name: "http", port: 80, targetPort: "http", protocol: "TCP" },
            { name: "https", port: 443, targetPort: "https", protocol: "TCP" },
          ],
        },
        labels,
      ),
      [controller],
      // MetalLB must be able to hand out an address before the Service can become ready.
      model.addons.metallb.enabled ? [METALLB_POOL] : [],
    );
  }
  return plan;
}
