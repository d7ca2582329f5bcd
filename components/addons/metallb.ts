import type * as pulumi from "@pulumi/pulumi";
import type { ClusterModel } from "../config";
import { metallbCrdManifests } from "./crds/metallb";
import { addonImage } from "./images";
import {
  AddonPlan,
  clusterRole,
  clusterRoleBinding,
  customResource,
  daemonSet,
  deployment,
  fieldEnv,
  LINUX_ONLY,
  namespace,
  PRIVILEGED_NAMESPACE,
  role,
  roleBinding,
  secret,
  serviceAccount,
} from "./manifest";

export const METALLB_NAMESPACE = "metallb-system";
/** The L2Advertisement that makes the pool's addresses reachable: LoadBalancer Services wait for it. */
export const METALLB_POOL = `L2Advertisement/${METALLB_NAMESPACE}/default`;
const METALLB_KINDS = ["bfdprofiles", "bgpadvertisements", "bgppeers", "communities", "ipaddresspools", "l2advertisements", "servicel2statuses", "servicebgpstatuses", "configurationstates"];

export interface MetallbSecrets {
  /** memberlist's shared key: speakers authenticate each other's gossip with it. */
  memberlistKey: pulumi.Input<string>;
}

/**
 * MetalLB v0.15 in L2 mode: controller (assigns addresses), speaker on every node (answers ARP), and one
 * IPAddressPool + L2Advertisement from cluster:addons.metallb.addresses. The validating webhooks are off:
 * their certificates are rotated into a webhook configuration at run time, which Pulumi would then see as drift.
 */
export function planMetallb(model: ClusterModel, secrets: MetallbSecrets): AddonPlan {
  const ns = METALLB_NAMESPACE;
  const cfg = model.addons.metallb;
  const plan = new AddonPlan("metallb");
  plan.add(namespace(ns, { ...PRIVILEGED_NAMESPACE, "pod-security.kubernetes.io/audit": "privileged", "pod-security.kubernetes.io/warn": "privileged" }));
  const crds = metallbCrdManifests().map((crd) => plan.add(crd));
  plan.add(serviceAccount(ns, "controller"));
  plan.add(serviceAccount(ns, "speaker"));
  plan.add(secret(ns, "memberlist", { secretkey: secrets.memberlistKey }));

  const readMetallb = { apiGroups: ["metallb.io"], resources: METALLB_KINDS, verbs: ["get", "list", "watch"] };
  // Each component reports whether its configuration is valid in a ConfigurationState of its own.
  const reportState = { apiGroups: ["metallb.io"], resources: ["configurationstates", "configurationstates/status"], verbs: ["create", "update", "patch", "delete"] };
  // The metrics endpoints authenticate and authorize their scrapers.
  const metricsAuth = [
    { apiGroups: ["authentication.k8s.io"], resources: ["tokenreviews"], verbs: ["create"] },
    { apiGroups: ["authorization.k8s.io"], resources: ["subjectaccessreviews"], verbs: ["create"] },
  ];
  plan.add(
    clusterRole("metallb-system:controller", [
      { apiGroups: [""], resources: ["services", "namespaces"], verbs: ["get", "list", "watch"] },
      { apiGroups: [""], resources: ["nodes"], verbs: ["list"] },
      { apiGroups: [""], resources: ["services/status"], verbs: ["update"] },
      { apiGroups: [""], resources: ["events"], verbs: ["create", "patch"] },
      ...metricsAuth,
    ]),
  );
  plan.add(
    clusterRole("metallb-system:speaker", [
      { apiGroups: [""], resources: ["services", "endpoints", "nodes", "namespaces"], verbs: ["get", "list", "watch"] },
      { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: ["get", "list", "watch"] },
      { apiGroups: [""], resources: ["events"], verbs: ["create", "patch"] },
      ...metricsAuth,
    ]),
  );
  plan.add(
    role(ns, "controller", [
      { apiGroups: [""], resources: ["secrets"], verbs: ["get", "list", "watch"] },
      { apiGroups: ["apps"], resources: ["deployments"], resourceNames: ["controller"], verbs: ["get"] },
      readMetallb,
      { apiGroups: ["metallb.io"], resources: ["ipaddresspools/status"], verbs: ["update"] },
      reportState,
    ]),
  );
  plan.add(
    role(ns, "pod-lister", [
      { apiGroups: [""], resources: ["pods"], verbs: ["get", "list"] },
      { apiGroups: [""], resources: ["secrets", "configmaps"], verbs: ["get", "list", "watch"] },
      readMetallb,
      { apiGroups: ["metallb.io"], resources: ["servicel2statuses", "servicel2statuses/status", "servicebgpstatuses", "servicebgpstatuses/status"], verbs: ["create", "update", "patch", "delete"] },
      reportState,
    ]),
  );
  plan.add(clusterRoleBinding("metallb-system:controller", "metallb-system:controller", ns, ["controller"]), ["ClusterRole/metallb-system:controller"]);
  plan.add(clusterRoleBinding("metallb-system:speaker", "metallb-system:speaker", ns, ["speaker"]), ["ClusterRole/metallb-system:speaker"]);
  plan.add(roleBinding(ns, "controller", { kind: "Role", name: "controller" }, { namespace: ns, names: ["controller"] }), [`Role/${ns}/controller`]);
  plan.add(roleBinding(ns, "pod-lister", { kind: "Role", name: "pod-lister" }, { namespace: ns, names: ["speaker"] }), [`Role/${ns}/pod-lister`]);

  const restricted = {
    allowPrivilegeEscalation: false,
    capabilities: { drop: ["ALL"] },
    readOnlyRootFilesystem: true,
  };
  const monitoringPort = { name: "monitoring", containerPort: 7472 };
  const probe = { httpGet: { path: "/metrics", port: "monitoring" }, initialDelaySeconds: 10, periodSeconds: 10, failureThreshold: 3 };
  const controllerLabels = { app: "metallb", component: "controller" };
  const controller = plan.add(
    deployment(
      ns,
      "controller",
      {
        revisionHistoryLimit: 3,
        selector: { matchLabels: controllerLabels },
        template: {
          metadata: { labels: controllerLabels },
          spec: {
            serviceAccountName: "controller",
            nodeSelector: LINUX_ONLY,
            terminationGracePeriodSeconds: 0,
            securityContext: { runAsNonRoot: true, runAsUser: 65534, fsGroup: 65534 },
            containers: [
              {
                name: "controller",
                image: addonImage(model, cfg.controllerImage),
                args: ["--port=7472", "--log-level=info", "--webhook-mode=disabled", "--disable-cert-rotation=true"],
                env: [
                  { name: "METALLB_ML_SECRET_NAME", value: "memberlist" },
                  { name: "METALLB_DEPLOYMENT", value: "controller" },
                ],
                ports: [monitoringPort],
                livenessProbe: probe,
                readinessProbe: probe,
                securityContext: restricted,
              },
            ],
          },
        },
      },
      controllerLabels,
    ),
    crds,
  );
  const speakerLabels = { app: "metallb", component: "speaker" };
  const speaker = plan.add(
    daemonSet(
      ns,
      "speaker",
      {
        selector: { matchLabels: speakerLabels },
        template: {
          metadata: { labels: speakerLabels },
          spec: {
            hostNetwork: true,
            serviceAccountName: "speaker",
            nodeSelector: LINUX_ONLY,
            terminationGracePeriodSeconds: 2,
            tolerations: [
              { key: "node-role.kubernetes.io/control-plane", operator: "Exists", effect: "NoSchedule" },
              { key: "node-role.kubernetes.io/master", operator: "Exists", effect: "NoSchedule" },
            ],
            containers: [
              {
                name: "speaker",
                image: addonImage(model, cfg.speakerImage),
                args: ["--port=7472", "--log-level=info"],
                env: [
                  fieldEnv("METALLB_NODE_NAME", "spec.nodeName"),
                  fieldEnv("METALLB_HOST", "status.hostIP"),
                  fieldEnv("METALLB_ML_BIND_ADDR", "status.podIP"),
                  { name: "METALLB_ML_LABELS", value: "app=metallb,component=speaker" },
                  { name: "METALLB_ML_SECRET_KEY_PATH", value: "/etc/ml_secret_key" },
                ],
                ports: [monitoringPort, { name: "memberlist-tcp", containerPort: 7946 }, { name: "memberlist-udp", containerPort: 7946, protocol: "UDP" }],
                livenessProbe: probe,
                readinessProbe: probe,
                securityContext: { ...restricted, capabilities: { drop: ["ALL"], add: ["NET_RAW"] } },
                volumeMounts: [{ name: "memberlist", mountPath: "/etc/ml_secret_key" }],
              },
            ],
            volumes: [{ name: "memberlist", secret: { secretName: "memberlist", defaultMode: 0o420 } }],
          },
        },
      },
      speakerLabels,
    ),
    crds,
  );

  const pool = plan.add(customResource("metallb.io/v1beta1", "IPAddressPool", "default", ns, { spec: { addresses: cfg.addresses } }), [controller, speaker]);
  plan.add(customResource("metallb.io/v1beta1", "L2Advertisement", "default", ns, { spec: { ipAddressPools: ["default"] } }), [pool]);
  return plan;
}
