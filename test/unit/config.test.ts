import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { afterEach, describe, expect, it, vi } from "vitest";
import { loadStackFile, StackFileError, SUPPORTED_MINORS } from "../../components/config";
import { NEWEST_RELEASE } from "../../components/config/kubernetes";
import { loadStackForCli } from "../../scripts/lib/cli";
import { devSection, haSection, model, problemsOf } from "./fixtures";

describe("config: defaults", () => {
  it("fills every default of a minimal stack", () => {
    const m = model(devSection());
    expect(m.name).toBe("test");
    expect(m.kubernetes.podSubnet).toBe("10.244.0.0/16");
    expect(m.kubernetes.serviceSubnet).toBe("10.96.0.0/12");
    expect(m.kubernetes.clusterDns).toBe("10.96.0.10");
    expect(m.kubernetes.dnsDomain).toBe("cluster.local");
    expect(m.kubernetes.kubeProxyMode).toBe("iptables");
    expect(m.kubernetes.packageVersion).toBe("1.29.13-1.1");
    expect(m.kubernetes.minorTag).toBe("v1.29");
    expect(m.kubernetes.kubeadmApiVersion).toBe("kubeadm.k8s.io/v1beta3");
    expect(m.endpoint).toEqual({ host: "10.0.0.11", port: 6443, address: "10.0.0.11", isName: false });
    expect(m.runtime.kind).toBe("containerd");
    expect(m.runtime.criSocket).toBe("unix:///run/containerd/containerd.sock");
    expect(m.mirrors.imageRepository).toBe("registry.k8s.io");
    expect(m.mirrors.sandboxImage).toBe("registry.k8s.io/pause:3.9");
    expect(m.mirrors.kubernetesPackages).toBe("https://pkgs.k8s.io/core:/stable:");
    expect(m.etcd.topology).toBe("stacked");
    expect(m.etcdMembers).toEqual([]);
    expect(m.loadBalancer.enabled).toBe(false);
    expect(m.addons.cni.plugin).toBe("flannel");
    expect(m.addons.cni.flannel.backend).toBe("vxlan");
    expect(m.hosts[0].ssh).toEqual({ user: "root", port: 22 });
    expect(m.controlPlanes.map((h) => h.name)).toEqual(["cp1"]);
    expect(m.workers.map((h) => h.name)).toEqual(["w1"]);
  });

  it("chooses the kubeadm API version by Kubernetes minor", () => {
    const at = (version: string) => model({ ...devSection(), kubernetes: { version } }).kubernetes.kubeadmApiVersion;
    expect(at("1.30.9")).toBe("kubeadm.k8s.io/v1beta3");
    expect(at("1.31.0")).toBe("kubeadm.k8s.io/v1beta4");
  });

  it("derives the endpoint from the VIP and the balancer port", () => {
    const m = model(haSection());
    expect(m.endpoint).toEqual({ host: "k8s-api.test", port: 6443, address: "10.0.0.100", isName: true });
    const colocated = haSection(1);
    colocated.hosts = colocated.hosts.filter((h: any) => !h.roles.includes("load-balancer"));
    colocated.loadBalancer = { mode: "colocated", vip: "10.0.0.100" };
    const c = model(colocated);
    expect(c.endpoint.port).toBe(8443);
    expect(c.loadBalancers.map((h) => h.name)).toEqual(["cp1", "cp2", "cp3"]);
  });

  it("merges per-host SSH settings over the defaults", () => {
    const section = devSection();
    section.ssh = { user: "ops", privateKeyPath: "/keys/a" };
    section.hosts[1].ssh = { port: 2222 };
    const m = model(section);
    expect(m.hosts[0].ssh).toEqual({ user: "ops", port: 22, privateKeyPath: "/keys/a" });
    expect(m.hosts[1].ssh).toEqual({ user: "ops", port: 2222, privateKeyPath: "/keys/a" });
  });

  it("loads every example stack", () => {
    for (const stack of ["dev", "prod", "china", "rocky9"]) expect(loadStackFile(stack).hosts.length).toBeGreaterThan(0);
    const china = loadStackFile("china");
    expect(china.kubernetes.version).toBe("1.35.4");
    expect(china.mirrors.imageRepository).toBe("registry.aliyuncs.com/google_containers");
    expect(china.mirrors.sandboxImage).toBe("registry.aliyuncs.com/google_containers/pause:3.10.1");
    expect(china.runtime.containerd).toMatchObject({ source: "distro", configVersion: 2 });
    // dev and prod: the newest patch of the newest minor, containerd 2 from the release files.
    for (const stack of ["dev", "prod"]) {
      const m = loadStackFile(stack);
      expect(m.kubernetes.version).toBe(NEWEST_RELEASE);
      expect(m.kubernetes.minor).toBe(SUPPORTED_MINORS.max);
      expect(m.mirrors.sandboxImage).toBe("registry.k8s.io/pause:3.10.2");
      expect(m.runtime.containerd).toMatchObject({ source: "release", version: "2.4.2", runcVersion: "1.5.3", configVersion: 3 });
    }
    expect(loadStackFile("prod").kubernetes.kubeProxyMode).toBe("nftables");
    expect(china.kubernetes.kubeProxyMode).toBe("ipvs");
    expect(china.kubernetes.podSubnet).toBe("10.244.0.0/16");
  });
});

describe("config: validation names the key and the problem", () => {
  const mutate = (change: (s: Record<string, any>) => void, base = devSection) => {
    const s = base();
    change(s);
    return problemsOf(s);
  };

  it("duplicate host names and addresses", () => {
    expect(
      mutate((s) => {
        s.hosts[1].name = "cp1";
        s.hosts[1].address = "10.0.0.11";
      }),
    ).toEqual([
      'cluster:hosts[1] (cp1).name: "cp1" is already the name of hosts[0] (cp1)',
      'cluster:hosts[1] (cp1).address: "10.0.0.11" is already the address of hosts[0] (cp1)',
    ]);
  });

  it("invalid addresses and CIDRs", () => {
    expect(
      mutate((s) => {
        s.hosts[0].internalAddress = "10.0.0.300";
        s.kubernetes.podSubnet = "10.244.0.0/33";
        s.kubernetes.serviceSubnet = "10.96.1.0/12";
      }),
    ).toEqual([
      'cluster:kubernetes.podSubnet: "10.244.0.0/33" is not a valid IPv4 CIDR (network/prefix with no host bits set)',
      'cluster:kubernetes.serviceSubnet: "10.96.1.0/12" is not a valid IPv4 CIDR (network/prefix with no host bits set)',
      'cluster:hosts[0] (cp1).internalAddress: "10.0.0.300" is not a valid IPv4 address',
    ]);
  });

  it("pod, service and host networks overlapping", () => {
    expect(
      mutate((s) => {
        s.kubernetes.podSubnet = "10.96.0.0/16";
        s.kubernetes.nodeSubnets = ["10.0.0.0/8"];
      }),
    ).toEqual([
      "cluster:kubernetes.serviceSubnet: 10.96.0.0/12 overlaps the pod network 10.96.0.0/16",
      "cluster:kubernetes.nodeSubnets[0]: 10.0.0.0/8 overlaps the pod network 10.96.0.0/16",
      "cluster:kubernetes.nodeSubnets[0]: 10.0.0.0/8 overlaps the service network 10.96.0.0/12",
    ]);
    expect(mutate((s) => (s.hosts[1].address = "10.244.3.4"))).toEqual([
      "cluster:hosts[1] (w1).address: 10.244.3.4 lies inside cluster:kubernetes.podSubnet 10.244.0.0/16; host, pod and service networks must not overlap",
    ]);
  });

  it("service network too small for the DNS address", () => {
    expect(mutate((s) => (s.kubernetes.serviceSubnet = "10.96.0.0/29"))).toEqual([
      "cluster:kubernetes.serviceSubnet: 10.96.0.0/29 is too small: the cluster DNS service takes its 10th address",
    ]);
  });

  it("even or zero etcd members, with the reason", () => {
    const external = () => {
      const s = haSection(1);
      s.etcd = { topology: "external" };
      return s;
    };
    expect(mutate(() => {}, external)).toEqual(['cluster:etcd.topology: is "external" but no host has the etcd role']);
    expect(
      mutate((s) => {
        s.hosts.push({ name: "e1", address: "10.0.0.31", roles: ["etcd"] }, { name: "e2", address: "10.0.0.32", roles: ["etcd"] });
      }, external),
    ).toEqual([
      "cluster:hosts: 2 hosts have the etcd role: etcd needs a majority (n/2+1) of its members to work, so 2 members tolerate 0 failure(s), no more than 1 would, while adding one more machine that can fail; use 1, 3, 5 or 7",
    ]);
    expect(mutate((s) => s.hosts.splice(4, 1), () => haSection(1))).toEqual([
      "cluster:hosts: 2 control planes with stacked etcd: etcd needs a majority (n/2+1) of its members to work, so 2 members tolerate 0 failure(s), no more than 1 would, while adding one more machine that can fail; use 1, 3, 5 or 7",
    ]);
  });

  it("the etcd role needs the external topology", () => {
    expect(mutate((s) => s.hosts.push({ name: "e1", address: "10.0.0.31", roles: ["etcd"] }))).toEqual([
      'cluster:hosts[2] (e1).roles: the etcd role needs cluster:etcd.topology "external"; with stacked etcd the control planes run it',
    ]);
  });

  it("HA control plane without an endpoint", () => {
    const s = haSection(1);
    delete s.controlPlaneEndpoint;
    s.loadBalancer = { mode: "none" };
    s.hosts = s.hosts.filter((h: any) => !h.roles.includes("load-balancer"));
    expect(problemsOf(s)).toEqual([
      "cluster:controlPlaneEndpoint.host: required with 3 control planes: joins and clients need one address that survives the loss of a control plane (or set cluster:loadBalancer)",
    ]);
  });

  it("a VIP that is also a host address", () => {
    expect(mutate((s) => (s.loadBalancer.vip = "10.0.0.12"), () => haSection(1))).toEqual([
      'cluster:loadBalancer.vip: 10.0.0.12 is the address of hosts[3] (cp2); the VIP must be a free address',
    ]);
  });

  it("Kubernetes version outside the supported range", () => {
    expect(mutate((s) => (s.kubernetes.version = "1.27.3"))).toEqual([
      "cluster:kubernetes.version: 1.27.3 is outside the supported range 1.28.0 - 1.37.x",
    ]);
    expect(mutate((s) => (s.kubernetes.version = "1.38.0"))).toEqual([
      "cluster:kubernetes.version: 1.38.0 is newer than the newest supported release 1.37.2: use 1.37.2 (supported: 1.28.0 - 1.37.x)",
    ]);
    expect(mutate((s) => (s.kubernetes.version = "2.0.0"))).toEqual([
      "cluster:kubernetes.version: 2.0.0 is outside the supported range 1.28.0 - 1.37.x",
    ]);
    // Every minor from the oldest to the newest is accepted (the dev fixture runs distro containerd, so 1.35 at most).
    for (const v of ["1.28.0", "1.34.4", "1.35.4", "1.36.3", "1.37.2", "1.37.9"]) {
      const s = devSection();
      s.kubernetes.version = v;
      expect(model(s).kubernetes.version).toBe(v);
    }
    expect(mutate((s) => (s.kubernetes.version = "v1.29.1"))).toEqual([
      'cluster:kubernetes.version: "v1.29.1" is not a version like 1.29.13 (no leading "v")',
    ]);
  });

  it("kube-proxy nftables mode needs 1.31", () => {
    expect(mutate((s) => Object.assign(s.kubernetes, { version: "1.30.9", kubeProxyMode: "nftables" }))).toEqual([
      "cluster:kubernetes.kubeProxyMode: nftables needs Kubernetes 1.31 or newer (it is alpha behind a feature gate before); 1.30.9 can use iptables or ipvs",
    ]);
    const ok = devSection();
    Object.assign(ok.kubernetes, { version: "1.31.4", kubeProxyMode: "nftables" });
    expect(model(ok).kubernetes.kubeProxyMode).toBe("nftables");
    expect(mutate((s) => (s.kubernetes.kubeProxyMode = "userspace"))).toEqual([
      "cluster:kubernetes.kubeProxyMode: must be one of \"iptables\", \"ipvs\", \"nftables\"",
    ]);
    expect(mutate((s) => (s.kubernetes.allowCgroupV1 = "yes"))).toEqual(["cluster:kubernetes.allowCgroupV1: expected boolean, received string"]);
  });

  it("kubeProxyExtraConfig does not take over the keys the rest of the cluster follows", () => {
    expect(mutate((s) => (s.kubernetes.kubeProxyExtraConfig = { mode: "ipvs", clusterCIDR: "10.0.0.0/16", conntrack: { maxPerCore: 0 } }))).toEqual([
      "cluster:kubernetes.kubeProxyExtraConfig.mode: is set here; set cluster:kubernetes.kubeProxyMode instead, which the rest of the cluster follows",
      "cluster:kubernetes.kubeProxyExtraConfig.clusterCIDR: is set here; set cluster:kubernetes.podSubnet instead, which the rest of the cluster follows",
    ]);
  });

  it("containerd 2 from Kubernetes 1.36: distro and 1.x pins refused, release files are 2.x", () => {
    expect(mutate((s) => Object.assign(s, { kubernetes: { version: "1.36.3" }, runtime: { containerd: { source: "distro" } } }))).toEqual([
      "cluster:runtime.containerd.source: Kubernetes 1.36.3 needs containerd 2 (1.35 is the last minor that supports containerd 1.x, which the distributions ship): use release or docker-ce",
    ]);
    expect(
      mutate((s) => Object.assign(s, { kubernetes: { version: "1.37.2" }, runtime: { containerd: { source: "docker-ce", packageVersion: "1.7.28-1" } } })),
    ).toEqual([
      "cluster:runtime.containerd.packageVersion: 1.7.28-1 is containerd 1.x, which Kubernetes 1.37.2 does not support: pin a 2.x containerd.io or leave it unset",
    ]);
    expect(mutate((s) => Object.assign(s, { runtime: { containerd: { source: "release", version: "1.7.28" } } }))).toEqual([
      "cluster:runtime.containerd.version: 1.7.28 is not containerd 2: the release files are installed for 2.x; containerd 1.7 comes from the distribution (source distro)",
    ]);
    expect(mutate((s) => Object.assign(s, { runtime: { containerd: { packageVersion: "latest!" } } }))).toEqual([
      "cluster:runtime.containerd.packageVersion: is not a Debian package version like 2.2.1-1~debian.13~trixie",
    ]);
    expect(mutate((s) => Object.assign(s, { runtime: { containerd: { source: "tarball" } } }))).toEqual([
      "cluster:runtime.containerd.source: must be one of \"distro\", \"docker-ce\", \"release\"",
    ]);
    // Defaults: distro up to 1.35, release from 1.36; docker-ce with a 2.x pin renders schema 3.
    const at = (version: string, containerd: Record<string, unknown> = {}) => {
      const s = devSection();
      Object.assign(s, { kubernetes: { version }, runtime: { containerd } });
      return model(s).runtime.containerd;
    };
    expect(at("1.35.4")).toMatchObject({ source: "distro", configVersion: 2 });
    expect(at("1.36.3")).toMatchObject({ source: "release", configVersion: 3 });
    expect(at("1.37.2", { source: "docker-ce" })).toMatchObject({ source: "docker-ce", configVersion: 2 });
    expect(at("1.37.2", { source: "docker-ce", packageVersion: "2.2.1-1~debian.13~trixie" })).toMatchObject({ configVersion: 3 });
  });

  it("worker-only cluster", () => {
    expect(mutate((s) => (s.hosts[0].roles = ["worker"]))).toEqual([
      "cluster:hosts: no host has the control-plane role: a cluster needs at least one (a worker-only cluster cannot be bootstrapped)",
    ]);
  });

  it("unknown keys, with a hint for typos", () => {
    expect(
      mutate((s) => {
        s.hosts[0].adress = "x";
        s.kubernets = {};
        s.mirrors = { imageRepo: "a" };
      }),
    ).toEqual([
      'cluster:hosts[0] (cp1).adress: unknown key (did you mean "address"?)',
      'cluster:mirrors.imageRepo: unknown key (did you mean "imageRepository"?)',
      'cluster:kubernets: unknown key (did you mean "kubernetes"?)',
    ]);
  });

  it("wrong types, missing keys and bad enum values", () => {
    expect(
      mutate((s) => {
        delete s.kubernetes.version;
        s.hosts[1].roles = ["master"];
        s.ssh = { port: "22" };
      }),
    ).toEqual([
      "cluster:kubernetes.version: expected string, it is missing",
      "cluster:ssh.port: expected number, received string",
      'cluster:hosts[1] (w1).roles[0]: must be one of "control-plane", "worker", "etcd", "load-balancer"',
    ]);
  });

  it("reports every problem at once", () => {
    const problems = mutate((s) => {
      s.hosts[1].name = "cp1";
      s.kubernetes.version = "1.20.0";
      s.kubernetes.serviceSubnet = "10.244.0.0/16";
    });
    expect(problems).toHaveLength(3);
  });

  it("load balancer rules", () => {
    expect(mutate((s) => (s.loadBalancer = { mode: "dedicated" }), () => haSection(1))).toEqual([
      'cluster:loadBalancer.vip: required when cluster:loadBalancer.mode is "dedicated"',
    ]);
    expect(mutate((s) => s.hosts.splice(1, 1), () => haSection(1))).toEqual([
      'cluster:hosts: cluster:loadBalancer.mode "dedicated" needs at least 2 hosts with the load-balancer role (found 1); one balancer is a single point of failure',
    ]);
    expect(mutate((s) => (s.hosts[0].roles = ["load-balancer", "control-plane"]), () => haSection(1))).toEqual([
      "cluster:hosts: 4 control planes with stacked etcd: etcd needs a majority (n/2+1) of its members to work, so 4 members tolerate 1 failure(s), no more than 3 would, while adding one more machine that can fail; use 1, 3, 5 or 7",
      'cluster:hosts[0] (lb1).roles: a dedicated load balancer cannot also be a control plane; use cluster:loadBalancer.mode "colocated" instead',
    ]);
    expect(mutate((s) => (s.loadBalancer = { mode: "none", vip: "10.0.0.100" }))).toEqual([
      'cluster:loadBalancer.vip: is set but cluster:loadBalancer.mode is "none"; set the mode to dedicated or colocated',
    ]);
    expect(
      mutate(
        (s) => {
          s.hosts = s.hosts.filter((h: any) => !h.roles.includes("load-balancer"));
          s.loadBalancer = { mode: "colocated", vip: "10.0.0.100", port: 6443 };
        },
        () => haSection(1),
      ),
    ).toEqual([
      "cluster:loadBalancer.port: 6443 is the API server's own port on the control planes; a colocated HAProxy needs another one (e.g. 8443)",
    ]);
    expect(mutate((s) => (s.controlPlaneEndpoint.host = "10.0.0.99"), () => haSection(1))).toEqual([
      "cluster:controlPlaneEndpoint.host: 10.0.0.99 is an address other than the VIP 10.0.0.100; use the VIP or a DNS name that resolves to it",
    ]);
  });

  it("host rules: DNS-name addresses, labels on non-nodes, roles", () => {
    expect(mutate((s) => (s.hosts[1].address = "w1.example.com"))).toEqual([
      'cluster:hosts[1] (w1).internalAddress: required because address "w1.example.com" is a DNS name: cluster members talk over IPv4 addresses',
    ]);
    expect(mutate((s) => (s.hosts[0].labels = { a: "b" }), () => haSection(1))).toEqual([
      "cluster:hosts[0] (lb1): labels and taints apply to Kubernetes nodes only; this host has neither the control-plane nor the worker role",
    ]);
    expect(mutate((s) => (s.hosts[1].roles = []))).toEqual([
      "cluster:hosts[1] (w1).roles: a host needs at least one role (control-plane, worker, etcd, load-balancer)",
    ]);
    expect(mutate((s) => (s.hosts[1].name = "Worker_1"))).toEqual([
      'cluster:hosts[1] (Worker_1).name: "Worker_1" is not a valid node name (lower-case letters, digits, \'-\' and \'.\', starting and ending with a letter or digit)',
    ]);
  });

  it("add-on rules", () => {
    expect(mutate((s) => (s.addons = { metallb: { enabled: true } }))).toEqual([
      "cluster:addons.metallb.addresses: list at least one address range when MetalLB is enabled",
    ]);
    expect(mutate((s) => (s.addons = { gateway: { enabled: true, mode: "loadBalancer" } }))).toEqual([
      'cluster:addons.gateway.mode: "loadBalancer" needs a load-balancer implementation on bare metal: enable cluster:addons.metallb',
    ]);
    expect(mutate((s) => (s.addons = { storage: { provisioner: "nfs" } }))).toEqual([
      'cluster:addons.storage.nfs.server: required when cluster:addons.storage.provisioner is "nfs"',
      'cluster:addons.storage.nfs.path: required when cluster:addons.storage.provisioner is "nfs"',
    ]);
    expect(mutate((s) => (s.addons = { storage: { provisioner: "none" }, logging: { enabled: true } }))).toEqual([
      'cluster:addons.storage.provisioner: "none" leaves the logging/monitoring volumes unbound: choose local-path or nfs, or name an existing storageClass',
    ]);
  });

  it("mirror values", () => {
    expect(
      mutate((s) => {
        s.mirrors = { imageRepository: "https://registry.example.com", kubernetesPackages: "ftp://x", registryMirrors: { "docker.io": [] } };
      }),
    ).toEqual([
      'cluster:mirrors.kubernetesPackages: "ftp://x" is not an http(s) URL',
      'cluster:mirrors.imageRepository: "https://registry.example.com" is not a registry reference (host[:port][/path], no scheme)',
      "cluster:mirrors.registryMirrors.docker.io: list at least one mirror URL",
    ]);
  });
});

describe("where the stack files are", () => {
  it("follows Pulumi.yaml's stackConfigDir, as pulumi does: stacks/ here, beside the project file when unset", async () => {
    const fs = await import("node:fs");
    const os = await import("node:os");
    const path = await import("node:path");
    const { stackFilePath } = await import("../../components/config");
    const root = path.resolve(__dirname, "..", "..");
    expect(stackFilePath("dev")).toBe(path.join(root, "stacks", "Pulumi.dev.yaml"));
    expect(fs.existsSync(stackFilePath("dev"))).toBe(true);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kop-project-"));
    try {
      fs.writeFileSync(path.join(dir, "Pulumi.yaml"), "name: x\nruntime: nodejs\n");
      expect(stackFilePath("dev", dir)).toBe(path.join(dir, "Pulumi.dev.yaml"));
      fs.writeFileSync(path.join(dir, "Pulumi.yaml"), "name: x\nruntime: nodejs\nstackConfigDir: 7\n");
      expect(() => stackFilePath("dev", dir)).toThrow(/stackConfigDir must be a directory name/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("config: a newcomer's mistakes are refused with the key, the host and what to do", () => {
  const threeNodes = () => {
    const s = devSection();
    s.hosts.push({ name: "w2", address: "10.0.0.22", roles: ["worker"] });
    return s;
  };

  it("a pod network too small to give every node its range", () => {
    const s = threeNodes();
    s.kubernetes.podSubnet = "10.244.0.0/30";
    expect(problemsOf(s)).toEqual([
      "cluster:kubernetes.podSubnet: 10.244.0.0/30 has room for 0 node ranges but the cluster has 3 nodes: kube-controller-manager gives each node a /24 of the pod network (node-cidr-mask-size); use a pod network of /22 or larger, such as 10.244.0.0/16",
    ]);
    s.kubernetes.podSubnet = "10.244.0.0/24";
    s.kubernetes.controllerManagerExtraArgs = { "node-cidr-mask-size": "25" };
    expect(problemsOf(s)).toEqual([
      "cluster:kubernetes.podSubnet: 10.244.0.0/24 has room for 2 node ranges but the cluster has 3 nodes: kube-controller-manager gives each node a /25 of the pod network (cluster:kubernetes.controllerManagerExtraArgs.node-cidr-mask-size); use a pod network of /23 or larger, such as 10.244.0.0/16",
    ]);
    s.kubernetes.controllerManagerExtraArgs = { "node-cidr-mask-size": "26" };
    expect(model(s).kubernetes.podSubnet).toBe("10.244.0.0/24");
    s.kubernetes.controllerManagerExtraArgs = { "node-cidr-mask-size": "x" };
    expect(problemsOf(s)).toEqual(['cluster:kubernetes.controllerManagerExtraArgs.node-cidr-mask-size: "x" is not a prefix length (1-32)']);
    // Only nodes count: balancers and etcd members get no pod range.
    const ha = haSection(250);
    expect(model(ha).nodes).toHaveLength(253);
    ha.hosts.push(...[1, 2, 3, 4].map((i) => ({ name: `w${250 + i}`, address: `10.0.2.${i}`, roles: ["worker"] })));
    expect(problemsOf(ha)).toEqual([
      "cluster:kubernetes.podSubnet: 10.244.0.0/16 has room for 256 node ranges but the cluster has 257 nodes: kube-controller-manager gives each node a /24 of the pod network (node-cidr-mask-size); use a pod network of /15 or larger",
    ]);
  });

  it("a DNS domain with an empty label", () => {
    expect(problemsOf({ ...devSection(), kubernetes: { version: "1.29.13", dnsDomain: "cluster..local" } })).toEqual([
      `cluster:kubernetes.dnsDomain: "cluster..local" is not a DNS domain: write dot-separated labels of lower-case letters, digits and '-', none empty, like cluster.local`,
    ]);
  });

  it("a node address no other machine can reach: loopback, unspecified, multicast, broadcast", () => {
    const s = threeNodes();
    s.hosts[0].address = "127.0.0.1";
    s.hosts[1].internalAddress = "0.0.0.0";
    s.hosts[2].address = "224.0.0.5";
    expect(problemsOf(s)).toEqual([
      "cluster:hosts[0] (cp1).address: 127.0.0.1 is a loopback address: the other machines cannot reach this host there; use the address the host has on the network the nodes share",
      "cluster:hosts[1] (w1).internalAddress: 0.0.0.0 is the unspecified address: the other machines cannot reach this host there; use the address the host has on the network the nodes share",
      "cluster:hosts[2] (w2).address: 224.0.0.5 is a multicast address: the other machines cannot reach this host there; use the address the host has on the network the nodes share",
    ]);
    s.hosts = devSection().hosts;
    s.hosts[1].address = "localhost";
    s.hosts[1].internalAddress = "255.255.255.255";
    expect(problemsOf(s)).toEqual([
      "cluster:hosts[1] (w1).address: localhost is a loopback name: the other machines cannot reach this host there; use the address the host has on the network the nodes share",
      "cluster:hosts[1] (w1).internalAddress: 255.255.255.255 is the broadcast address: the other machines cannot reach this host there; use the address the host has on the network the nodes share",
    ]);
  });

  it("something shaped like an address is checked as an address, not as a DNS name", () => {
    const s = devSection();
    s.hosts[1].address = "192.168.56.300";
    s.controlPlaneEndpoint = { host: "10.0.0.256" };
    expect(problemsOf(s)).toEqual([
      'cluster:controlPlaneEndpoint.host: "10.0.0.256" is not a valid IPv4 address',
      'cluster:hosts[1] (w1).address: "192.168.56.300" is not a valid IPv4 address',
    ]);
    s.hosts[1].address = "w1_bad.example.com";
    delete s.controlPlaneEndpoint;
    expect(problemsOf(s)).toEqual(['cluster:hosts[1] (w1).address: "w1_bad.example.com" is neither an IPv4 address nor a DNS name']);
  });

  it("an unquoted version, which YAML reads as a number", () => {
    expect(problemsOf({ ...devSection(), kubernetes: { version: 1.29 } })).toEqual([
      'cluster:kubernetes.version: expected a quoted version string like "1.29.13", got the number 1.29',
    ]);
    expect(problemsOf({ ...devSection(), etcd: { version: 3.5 } })).toEqual([
      'cluster:etcd.version: expected a quoted version string like "3.5.16", got the number 3.5',
    ]);
  });

  it("names a host by its name wherever it is known, and by index only where it is not", () => {
    const s = haSection(3);
    s.hosts[7].address = "10.0.0.5";
    s.hosts[6].name = 42;
    expect(problemsOf(s)).toEqual([
      "cluster:hosts[6].name: expected string, received number",
    ]);
    s.hosts[6].name = "w2";
    expect(problemsOf(s)).toEqual(['cluster:hosts[7] (w3).address: "10.0.0.5" is already the address of hosts[0] (lb1)']);
  });
});

describe("stack files: YAML errors and plain-text secrets", () => {
  const project = (stackText: string) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kop-stack-"));
    fs.writeFileSync(path.join(dir, "Pulumi.yaml"), "name: x\nruntime: nodejs\nstackConfigDir: stacks\n");
    fs.mkdirSync(path.join(dir, "stacks"));
    fs.writeFileSync(path.join(dir, "stacks", "Pulumi.dev.yaml"), stackText);
    return dir;
  };
  const validStack = [
    "config:",
    "  cluster:kubernetes:",
    '    version: "1.29.13"',
    "  cluster:hosts:",
    "    - { name: cp1, address: 10.0.0.11, roles: [control-plane] }",
  ];
  let dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
    dirs = [];
  });
  const stackDir = (lines: string[]) => {
    const dir = project(lines.join("\n") + "\n");
    dirs.push(dir);
    return dir;
  };

  it("a YAML syntax error is one line, FILE:LINE:COL: message, in the tools as in loadStackFile", () => {
    const dir = stackDir([...validStack.slice(0, 4), "    - { name: cp1, address: 10.0.0.11, roles: [control-plane]", "  cluster:ssh: { user: ops }"]);
    const expected = "stacks/Pulumi.dev.yaml:6:3: Flow map in block collection must be sufficiently indented and end with a }";
    expect(() => loadStackFile("dev", { projectDir: dir })).toThrow(new StackFileError(expected));
    const printed: unknown[] = [];
    const spy = vi.spyOn(console, "error").mockImplementation((...args) => void printed.push(...args));
    try {
      expect(loadStackForCli("dev", dir)).toBeUndefined();
    } finally {
      spy.mockRestore();
    }
    expect(printed).toEqual([expected]);
  });

  it("refuses an SSH private key written into the stack file in plain text, showing the --secret command", () => {
    const dir = stackDir([...validStack, '  cluster:sshPrivateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\\nb3Blbn\\n-----END OPENSSH PRIVATE KEY-----"']);
    expect(() => loadStackFile("dev", { projectDir: dir })).toThrow(
      "invalid stack config (1 problem):\n  - cluster:sshPrivateKey: is written in plain text in stacks/Pulumi.dev.yaml; a private key must be stored encrypted: " +
        "run `pulumi config set --secret cluster:sshPrivateKey < ~/.ssh/id_ed25519` (with your key file), which replaces the plain-text value",
    );
    const secure = stackDir([...validStack, "  cluster:sshPrivateKey:", "    secure: AAABAKbkeLOSi9sL1H2zpdIZ1kP5"]);
    expect(loadStackFile("dev", { projectDir: secure }).hasSshPrivateKey).toBe(true);
  });

  it("the program (pulumi up) refuses the plain-text key too, and reports config problems without a stack trace", async () => {
    const { modelFromPulumiConfig } = await import("../../components/config/pulumi");
    await pulumi.runtime.setMocks({ newResource: (a) => ({ id: a.name, state: a.inputs }), call: (a) => a.inputs }, "kubeadm-on-pulumi", "dev", true);
    const entries = {
      "cluster:kubernetes": JSON.stringify({ version: "1.29.13" }),
      "cluster:hosts": JSON.stringify([{ name: "cp1", address: "10.0.0.11", roles: ["control-plane"] }]),
      "cluster:sshPrivateKey": "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn\n-----END OPENSSH PRIVATE KEY-----",
    };
    pulumi.runtime.setAllConfig(entries, []);
    let error: unknown;
    try {
      modelFromPulumiConfig();
    } catch (e) {
      error = e;
    }
    expect(pulumi.RunError.isInstance(error)).toBe(true);
    expect((error as Error).message).toBe(
      "invalid stack config (1 problem):\n  - cluster:sshPrivateKey: is written in plain text in stacks/Pulumi.dev.yaml; a private key must be stored encrypted: " +
        "run `pulumi config set --secret cluster:sshPrivateKey < ~/.ssh/id_ed25519` (with your key file), which replaces the plain-text value",
    );
    pulumi.runtime.setAllConfig(entries, ["cluster:sshPrivateKey"]);
    expect(modelFromPulumiConfig().model.hasSshPrivateKey).toBe(true);
  });
});
