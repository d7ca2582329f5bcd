import { z } from "zod";
import { httpUrl, image, registry } from "./fields";

/**
 * Every place the program downloads from. Defaults reach the public upstreams;
 * stacks/Pulumi.china.yaml shows a mirror setup.
 */
export const mirrorsSchema = z.strictObject({
  /** Base of the per-minor Kubernetes package repository; "/v1.29/deb/" is appended. */
  kubernetesPackages: httpUrl().default("https://pkgs.k8s.io/core:/stable:"),
  /** Base of the Docker CE repository; "/debian" or "/ubuntu" is appended. */
  dockerPackages: httpUrl().default("https://download.docker.com/linux"),
  /** Base URL for release tarballs (etcd, cri-dockerd, containerd, runc) laid out as upstream: <base>/<project>/<version>/<file>. */
  releases: z
    .strictObject({
      etcd: httpUrl().default("https://github.com/etcd-io/etcd/releases/download"),
      criDockerd: httpUrl().default("https://github.com/Mirantis/cri-dockerd/releases/download"),
      /** containerd release files: <base>/v<version>/containerd-<version>-linux-<arch>.tar.gz and its .sha256sum. */
      containerd: httpUrl().default("https://github.com/containerd/containerd/releases/download"),
      /** runc release files: <base>/v<version>/runc.<arch> and runc.sha256sum. */
      runc: httpUrl().default("https://github.com/opencontainers/runc/releases/download"),
    })
    .prefault({}),
  /** kubeadm imageRepository: where the control-plane, CoreDNS, etcd and pause images come from. */
  imageRepository: registry().default("registry.k8s.io"),
  /** Pod sandbox image; derived from imageRepository and the Kubernetes version when unset. */
  sandboxImage: image().optional(),
  /** Pull-through mirrors per upstream registry, tried in order: { "docker.io": ["https://mirror.example.com"] }. */
  registryMirrors: z.record(registry(), z.array(httpUrl()).min(1, "list at least one mirror URL")).default({}),
  /**
   * Registry rewrites for every add-on image: { "docker.io": "registry.example.com/dockerhub" } makes
   * "docker.io/calico/node:v3.28.2" pull as "registry.example.com/dockerhub/calico/node:v3.28.2".
   */
  addonImageRegistries: z.record(registry(), registry()).default({}),
  /** Registries reached over plain HTTP or with an unverified certificate ("host:port"). */
  insecureRegistries: z.array(registry()).default([]),
});

export type MirrorsInput = z.output<typeof mirrorsSchema>;
