import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse as parseYaml } from "yaml";
import { describe, expect, it } from "vitest";
import { clusterSection, loadStackFile, parseClusterConfig, stackFilePath, type ClusterModel } from "../../components/config";
import { externalEtcd } from "../../components/etcd/plan";
import { initSecretsBlock, kubeletConfiguration } from "../../components/kubeadm/config";
import { joinSecrets, kubeadmConfigFiles, kubeadmFunctions } from "../../components/kubeadm/steps";
import { KUBEADM_VALIDATE_RELEASES, kubeadmValidateBuild, kubeadmValidateRelease, requireGoTool } from "../../scripts/lib/go-tools";
import { run } from "../support/tools";
import { model } from "../unit/fixtures";

/**
 * Every kubeadm configuration document is decoded strictly into the real published Go types of its
 * API version (tools/kubeadm-validate: kubeadm v1beta3/v1beta4 from k8s.io/kubernetes, kubelet
 * v1beta1, kube-proxy v1alpha1; unknown or duplicate fields and wrong types fail), and kubeadm's
 * own validation runs on the cluster-wide settings. Each minor from 1.35 is checked with the types
 * of its own newest release; 1.28 - 1.34 with 1.35's (scripts/lib/go-tools.ts). Checked: each stack
 * at its own version and at other minors and API versions, as placed on disk and as kubeadm reads it
 * (secrets filled in by the same bash functions the steps use).
 */

/** The kubeadm-validate build (built by the unit project's globalSetup) for a Kubernetes minor. */
function validatorFor(minor: number): string {
  return requireGoTool(kubeadmValidateBuild(kubeadmValidateRelease(minor)));
}

interface Verdict {
  file: string;
  index: number;
  apiVersion: string;
  kind: string;
  errors: string[];
}

function validate(files: string[], minor: number): Verdict[] {
  const result = run(validatorFor(minor), files);
  const verdicts = result.stdout
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Verdict);
  if (result.code === 2 || verdicts.length === 0) throw new Error(`kubeadm-validate did not run: ${result.stderr}`);
  return verdicts;
}

/** The stack's model at another Kubernetes version (to render the other kubeadm API version). */
function stackAt(stack: string, version: string): ClusterModel {
  const doc = parseYaml(fs.readFileSync(stackFilePath(stack), "utf8")) as { config: Record<string, any> };
  const section = clusterSection(doc.config);
  section.kubernetes = { ...(section.kubernetes as object), version };
  return parseClusterConfig(section, { stackName: stack });
}

const FAKE_SECRETS = {
  bootstrap_token: "abcdef.0123456789abcdef",
  certificate_key: "f".repeat(64),
  ca_cert_hash: `sha256:${"e".repeat(64)}`,
};

/** Runs the steps' own bash (kop_insert_after_kind, kop_fill_secrets) on a placed file. */
function filledAsKubeadmReadsIt(file: string, kind: "init" | "join", secrets: string[]): string {
  const driver = [
    "set -euo pipefail",
    "kop_fail() { printf 'kop: ERROR: %s\\n' \"$*\" >&2; exit 1; }",
    kubeadmFunctions("secrets"),
    ...Object.entries(FAKE_SECRETS).map(([k, v]) => `SECRET_${k}='${v}'`),
    kind === "init"
      ? `block=$(cat <<'KOP_BLOCK'\n${initSecretsBlock()}KOP_BLOCK\n)\nconfig=$(kop_insert_after_kind InitConfiguration "$block" <'${file}' | kop_fill_secrets ${secrets.join(" ")})`
      : `config=$(kop_fill_secrets ${secrets.join(" ")} <'${file}')`,
    `printf '%s\\n' "$config"`,
  ].join("\n");
  const result = run("bash", ["-c", driver]);
  if (result.code !== 0) throw new Error(`filling secrets into ${file} failed: ${result.stderr}`);
  return result.stdout;
}

/** Writes every kubeadm file of a model (placed and filled-in) and returns their paths by host. */
function renderAll(m: ClusterModel, dir: string): Array<{ host: string; file: string; expectKinds: string[] }> {
  const out: Array<{ host: string; file: string; expectKinds: string[] }> = [];
  const first = m.controlPlanes[0];
  for (const host of m.nodes) {
    for (const f of kubeadmConfigFiles(m, host, externalEtcd(m))) {
      if (!f.path.endsWith(".yaml")) continue;
      const placed = path.join(dir, host.name, path.basename(f.path));
      fs.mkdirSync(path.dirname(placed), { recursive: true });
      fs.writeFileSync(placed, f.content);
      const isJoin = f.path.endsWith("join.yaml");
      const kinds = isJoin ? ["JoinConfiguration"] : ["InitConfiguration", "ClusterConfiguration", "KubeletConfiguration", "KubeProxyConfiguration"];
      out.push({ host: host.name, file: placed, expectKinds: kinds });
      const filled = isJoin
        ? filledAsKubeadmReadsIt(placed, "join", joinSecrets(host))
        : host.name === first.name
          ? filledAsKubeadmReadsIt(placed, "init", ["bootstrap_token", "certificate_key"])
          : undefined;
      if (filled !== undefined) {
        const target = placed.replace(/\.yaml$/, ".filled.yaml");
        fs.writeFileSync(target, filled);
        out.push({ host: host.name, file: target, expectKinds: kinds });
      }
    }
  }
  return out;
}

function expectValid(m: ClusterModel, label: string): void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `kop-kubeadm-${label}-`));
  const files = renderAll(m, dir);
  const verdicts = validate(files.map((f) => f.file), m.kubernetes.minor);
  const failures = verdicts.filter((v) => v.errors.length > 0).map((v) => `${path.relative(dir, v.file)}#${v.index} ${v.kind}: ${v.errors.join("; ")}`);
  expect(failures, label).toEqual([]);
  for (const f of files) {
    const mine = verdicts.filter((v) => v.file === f.file);
    expect(mine.map((v) => v.kind), f.file).toEqual(f.expectKinds);
    const kubeadmDocs = mine.filter((v) => v.apiVersion.startsWith("kubeadm.k8s.io/"));
    for (const v of kubeadmDocs) expect(v.apiVersion).toBe(m.kubernetes.kubeadmApiVersion);
  }
  fs.rmSync(dir, { recursive: true, force: true });
}

describe("kubeadm configuration against the published Go types", () => {
  it("the validator is strict: unknown fields, v1beta3 maps in v1beta4, malformed tokens and kubeadm validation errors fail", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kop-kubeadm-strict-"));
    const file = path.join(dir, "bad.yaml");
    fs.writeFileSync(
      file,
      [
        "apiVersion: kubeadm.k8s.io/v1beta3\nkind: ClusterConfiguration\nnetworking: {podSubnet: 10.244.0.0/16}\nbogusField: 1\n",
        "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\napiServer: {extraArgs: {audit-log-path: /var/log/audit.log}}\n",
        "apiVersion: kubeadm.k8s.io/v1beta3\nkind: InitConfiguration\nbootstrapTokens: [{token: KOP_SECRET_bootstrap_token}]\n",
        "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\ncgroupDriver: systemd\ncgroupDrivr: systemd\n",
        "apiVersion: kubeadm.k8s.io/v1beta3\nkind: ClusterConfiguration\nnetworking: {serviceSubnet: 10.0.0.0/8}\napiServer: {certSANs: [not_a_name!]}\n",
        "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\napiServer: {extraArgs: [{name: audit-log-path, value: /var/log/audit.log}]}\n",
      ].join("---\n"),
    );
    const verdicts = validate([file], 36);
    expect(verdicts.map((v) => v.errors.length > 0)).toEqual([true, true, true, true, true, false]);
    expect(verdicts[0].errors[0]).toContain('unknown field "bogusField"');
    expect(verdicts[1].errors[0]).toContain("[]v1beta4.Arg");
    expect(verdicts[2].errors[0]).toContain("bootstrap token");
    expect(verdicts[3].errors[0]).toContain("cgroupDrivr");
    // kubeadm's own validation, after a clean decode: the service network size and a malformed SAN.
    expect(verdicts[4].errors.join(" ")).toMatch(/serviceSubnet.*too large/i);
    expect(verdicts[4].errors.join(" ")).toContain("not_a_name!");
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("kubeadm 1.37's types refuse the v1beta3 API it removed; 1.36's still read it", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kop-kubeadm-v1beta3-"));
    const file = path.join(dir, "v1beta3.yaml");
    fs.writeFileSync(file, "apiVersion: kubeadm.k8s.io/v1beta3\nkind: ClusterConfiguration\nnetworking: {podSubnet: 10.244.0.0/16}\n");
    expect(validate([file], 37)[0].errors).toEqual(["unknown apiVersion/kind kubeadm.k8s.io/v1beta3 ClusterConfiguration"]);
    expect(validate([file], 36)[0].errors).toEqual([]);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("one validator per release: the newest of each minor from 1.35", () => {
    expect([...KUBEADM_VALIDATE_RELEASES]).toEqual(["1.35.4", "1.36.3", "1.37.2"]);
    expect([28, 34, 35, 36, 37].map(kubeadmValidateRelease)).toEqual(["1.35.4", "1.35.4", "1.35.4", "1.36.3", "1.37.2"]);
    expect(() => kubeadmValidateRelease(38)).toThrow("no kubeadm-validate build for Kubernetes 1.38: add its release to KUBEADM_VALIDATE_RELEASES");
  });

  const variants: Array<[string, string]> = [
    ["dev", "1.37.2"],
    ["prod", "1.37.2"],
    ["china", "1.35.4"],
    ["dev", "1.36.3"],
    ["prod", "1.36.3"],
    ["dev", "1.34.4"],
    ["dev", "1.31.4"],
    ["prod", "1.32.5"],
    ["china", "1.29.13"],
    ["china", "1.33.2"],
  ];
  for (const [stack, version] of variants) {
    it(`stack ${stack} at ${version}: every placed and filled-in document decodes strictly (kubeadm ${kubeadmValidateRelease(Number(version.split(".")[1]))} types)`, () => {
      const m = stackAt(stack, version);
      expect(m.kubernetes.kubeadmApiVersion).toBe(Number(version.split(".")[1]) <= 30 ? "kubeadm.k8s.io/v1beta3" : "kubeadm.k8s.io/v1beta4");
      expectValid(m, `${stack}-${version}`);
    });
  }

  for (const version of ["1.30.9", "1.31.4", "1.35.4", "1.37.2"]) {
    const minor = Number(version.split(".")[1]);
    const proxyMode = minor >= 35 ? "nftables" : "ipvs";
    it(`every option at ${version}: docker (cri-dockerd), monitoring, MetalLB + ${proxyMode}, feature gates, extra args, kubelet settings, taints${minor >= 35 ? ", cgroup v1 allowed" : ""}`, () => {
      const m = model({
        kubernetes: {
          version,
          kubeProxyMode: proxyMode,
          ...(minor >= 35 ? { allowCgroupV1: true } : {}),
          certSANs: ["api.example.com", "203.0.113.10"],
          featureGates: { GracefulNodeShutdown: true },
          apiServerExtraArgs: { "audit-log-maxage": "30" },
          controllerManagerExtraArgs: { "node-cidr-mask-size": "24" },
          schedulerExtraArgs: { "bind-address": "127.0.0.1" },
          kubeletExtraConfig: { maxPods: 150, evictionHard: { "memory.available": "200Mi" } },
        },
        runtime: { kind: "docker" },
        controlPlaneEndpoint: { host: "k8s-api.test" },
        loadBalancer: { mode: "colocated", vip: "10.0.0.100" },
        addons: { monitoring: { enabled: true }, metallb: { enabled: true, addresses: ["10.0.0.200-10.0.0.210"] } },
        hosts: [
          { name: "cp1", address: "203.0.113.11", internalAddress: "10.0.0.11", roles: ["control-plane"] },
          { name: "cp2", address: "10.0.0.12", roles: ["control-plane", "worker"] },
          { name: "cp3", address: "10.0.0.13", roles: ["control-plane"] },
          { name: "w1", address: "10.0.0.21", roles: ["worker"], taints: [{ key: "dedicated", value: "gpu", effect: "NoSchedule" }], labels: { gpu: "true" } },
        ],
      });
      expect(m.runtime.criSocket).toBe("unix:///run/cri-dockerd.sock");
      if (minor >= 35) expect(kubeletConfiguration(m)).toMatchObject({ failCgroupV1: false });
      expectValid(m, `options-${version}`);
    });
  }
});
