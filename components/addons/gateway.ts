import type { input } from "@pulumi/kubernetes/types";
import type { ClusterModel } from "../config";
import { GATEWAY_API_RESOURCES, GATEWAY_API_STATUS_RESOURCES, gatewayApiCrdManifests } from "./crds/gateway-api";
import { addonImage } from "./images";
import { METALLB_POOL } from "./metallb";
import {
  AddonPlan,
  clusterRole,
  clusterRoleBinding,
  customResource,
  daemonSet,
  deployment,
  LINUX_ONLY,
  namespace,
  PRIVILEGED_NAMESPACE,
  service,
  serviceAccount,
  type Manifest,
} from "./manifest";

export const GATEWAY_NAMESPACE = "gateway-system";
export const GATEWAY_CLASS = "traefik";
const GATEWAY_API = "gateway.networking.k8s.io/v1";
/** The one Gateway: HTTPRoutes of every namespace attach to it (parentRefs: name default, namespace gateway-system). */
export const GATEWAY = `Gateway/${GATEWAY_NAMESPACE}/default`;
export const HTTPROUTE_CRD = "CustomResourceDefinition/httproutes.gateway.networking.k8s.io";
/** Traefik's own entry point: /ping for the probes. Not 8080/9100, which hostNetwork nodes often use already. */
const ADMIN_PORT = 9000;

/**
 * Traefik v3 as the Gateway API implementation (replacing the retired ingress-nginx): the standard-channel CRDs,
 * GatewayClass "traefik" and Gateway "default" with an HTTP listener on port 80 (plus HTTPS on 443 with
 * tlsSecretName). Traefik's pods serve the traffic themselves, so every object is declared here and awaited:
 * hostNetwork mode is a DaemonSet on the nodes matching nodeSelector, serving their ports 80/443; loadBalancer
 * mode is a Deployment behind a Service of type LoadBalancer (an address from MetalLB). Traefik's own CRDs are
 * not needed: only its Gateway API provider is enabled.
 */
export function planGateway(model: ClusterModel): AddonPlan {
  const ns = GATEWAY_NAMESPACE;
  const cfg = model.addons.gateway;
  const hostNetwork = cfg.mode === "hostNetwork";
  const tls = cfg.tlsSecretName !== undefined;
  const plan = new AddonPlan("gateway");
  plan.add(namespace(ns, hostNetwork ? PRIVILEGED_NAMESPACE : undefined));
  for (const crd of gatewayApiCrdManifests()) plan.add(crd);
  plan.add(serviceAccount(ns, "traefik"));
  const watch = ["get", "list", "watch"];
  plan.add(
    clusterRole("traefik", [
      { apiGroups: [""], resources: ["namespaces"], verbs: ["list", "watch"] },
      { apiGroups: [""], resources: ["services", "secrets", "configmaps"], verbs: watch },
      { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: watch },
      { apiGroups: ["gateway.networking.k8s.io"], resources: GATEWAY_API_RESOURCES, verbs: watch },
      { apiGroups: ["gateway.networking.k8s.io"], resources: GATEWAY_API_STATUS_RESOURCES, verbs: ["update", "patch"] },
    ]),
  );
  plan.add(clusterRoleBinding("traefik", "traefik", ns, ["traefik"]), ["ClusterRole/traefik"]);

  const labels = { "app.kubernetes.io/name": "traefik", "app.kubernetes.io/component": "gateway" };
  const args = [
    `--entryPoints.web.address=:80`,
    ...(tls ? [`--entryPoints.websecure.address=:443`] : []),
    `--entryPoints.traefik.address=:${ADMIN_PORT}`,
    "--ping=true",
    "--providers.kubernetesgateway=true",
    // Gateway status shows where clients connect: the Service's address (hostNetwork: the nodes' own addresses).
    ...(hostNetwork ? [] : [`--providers.kubernetesgateway.statusaddress.service.name=traefik`, `--providers.kubernetesgateway.statusaddress.service.namespace=${ns}`]),
    // No calls home: clusters behind a firewall would only log failures.
    "--global.checknewversion=false",
    "--global.sendanonymoususage=false",
  ];
  const probe = { httpGet: { path: "/ping", port: ADMIN_PORT, scheme: "HTTP" }, periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 3 };
  const ports: input.core.v1.ContainerPort[] = [
    { name: "web", containerPort: 80, protocol: "TCP" },
    ...(tls ? [{ name: "websecure", containerPort: 443, protocol: "TCP" }] : []),
    { name: "traefik", containerPort: ADMIN_PORT, protocol: "TCP" },
  ];
  const podSpec: input.core.v1.PodSpec = {
    serviceAccountName: "traefik",
    nodeSelector: { ...LINUX_ONLY, ...cfg.nodeSelector },
    terminationGracePeriodSeconds: 60,
    ...(hostNetwork ? { hostNetwork: true, dnsPolicy: "ClusterFirstWithHostNet" } : { dnsPolicy: "ClusterFirst" }),
    securityContext: { seccompProfile: { type: "RuntimeDefault" } },
    containers: [
      {
        name: "traefik",
        image: addonImage(model, cfg.image),
        args,
        ports,
        readinessProbe: probe,
        livenessProbe: { ...probe, initialDelaySeconds: 10 },
        resources: { requests: { cpu: "100m", memory: "64Mi" } },
        // Root only to bind ports 80/443 (the binary has no file capabilities); every other capability is dropped.
        securityContext: {
          runAsUser: 0,
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ["ALL"], add: ["NET_BIND_SERVICE"] },
        },
        volumeMounts: [{ name: "tmp", mountPath: "/tmp" }],
      },
    ],
    volumes: [{ name: "tmp", emptyDir: {} }],
  };
  const template = { metadata: { labels }, spec: podSpec };
  const controller = hostNetwork
    ? plan.add(daemonSet(ns, "traefik", { selector: { matchLabels: labels }, updateStrategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 1 } }, template }, labels))
    : plan.add(deployment(ns, "traefik", { replicas: 2, selector: { matchLabels: labels }, template }, labels));
  if (!hostNetwork) {
    plan.add(
      service(
        ns,
        "traefik",
        {
          type: "LoadBalancer",
          // Keeps the client's source address; only nodes with a Traefik pod answer for the address.
          externalTrafficPolicy: "Local",
          selector: labels,
          ports: [
            { name: "web", port: 80, targetPort: "web", protocol: "TCP" },
            ...(tls ? [{ name: "websecure", port: 443, targetPort: "websecure", protocol: "TCP" }] : []),
          ],
        },
        labels,
      ),
      [controller],
      // MetalLB must be able to hand out an address before the Service can become ready.
      model.addons.metallb.enabled ? [METALLB_POOL] : [],
    );
  }

  // Attached once Traefik runs, so that it accepts them straight away.
  const gatewayClass = plan.add(customResource(GATEWAY_API, "GatewayClass", GATEWAY_CLASS, undefined, { spec: { controllerName: "traefik.io/gateway-controller" } }), [
    controller,
  ]);
  const allowedRoutes = { namespaces: { from: "All" } };
  plan.add(
    customResource(GATEWAY_API, "Gateway", "default", ns, {
      spec: {
        gatewayClassName: GATEWAY_CLASS,
        listeners: [
          { name: "http", port: 80, protocol: "HTTP", allowedRoutes },
          ...(tls
            ? [{ name: "https", port: 443, protocol: "HTTPS", tls: { mode: "Terminate", certificateRefs: [{ group: "", kind: "Secret", name: cfg.tlsSecretName }] }, allowedRoutes }]
            : []),
        ],
      },
    }),
    [gatewayClass],
  );
  return plan;
}

/**
 * An HTTPRoute publishing one Service port for one host name on the gateway add-on's Gateway. It is planned by
 * the add-on it belongs to and waits for the Gateway (another add-on's object).
 */
export function hostRoute(ns: string, name: string, host: string, serviceName: string, port: number): { manifest: Manifest; after: string[] } {
  return {
    manifest: customResource(GATEWAY_API, "HTTPRoute", name, ns, {
      spec: {
        parentRefs: [{ group: "gateway.networking.k8s.io", kind: "Gateway", namespace: GATEWAY_NAMESPACE, name: "default" }],
        hostnames: [host],
        rules: [{ matches: [{ path: { type: "PathPrefix", value: "/" } }], backendRefs: [{ group: "", kind: "Service", name: serviceName, port }] }],
      },
    }),
    after: [HTTPROUTE_CRD, GATEWAY],
  };
}
