import { z } from "zod";
import { cidr, hostOrAddress, httpUrl, semver } from "./fields";

export const runtimeSchema = z.strictObject({
  kind: z.enum(["containerd", "docker"]).default("containerd"),
  containerd: z
    .strictObject({
      /**
       * "distro": the OS's containerd package (1.6/1.7); "docker-ce": containerd.io from the Docker
       * repository; "release": the upstream containerd 2 and runc release files under
       * cluster:mirrors.releases, checksum-checked. Default: distro up to Kubernetes 1.35 (the last
       * minor that supports containerd 1.x), release from 1.36.
       */
      source: z.enum(["distro", "docker-ce", "release"]).optional(),
      /** containerd release installed from tarballs (source release). */
      version: semver().default("2.4.2"),
      /** runc release installed beside it (source release). */
      runcVersion: semver().default("1.5.3"),
      /** containerd.io package version pin for source docker-ce (apt version string, e.g. "2.2.1-1~debian.13~trixie"); latest when unset. */
      packageVersion: z.string().regex(/^[0-9][0-9A-Za-z.+~:-]*$/, "is not a Debian package version like 2.2.1-1~debian.13~trixie").optional(),
      /**
       * containerd keeps containers' oom_score_adj at or above its own (CRI restrict_oom_score_adj):
       * for hosts that are themselves containers without CAP_SYS_RESOURCE (LXC, systemd-nspawn),
       * where the pause container's -998 would fail to start every pod.
       */
      restrictOomScoreAdj: z.boolean().default(false),
    })
    .prefault({}),
  docker: z
    .strictObject({
      criDockerdVersion: semver().default("0.3.26"),
      /** docker-ce package version pin (apt version string); latest from the repository when unset. */
      packageVersion: z.string().optional(),
    })
    .prefault({}),
  /** Container log rotation (docker daemon.json and kubelet containerLogMaxSize). */
  logMaxSize: z.string().regex(/^\d+(Ki|Mi|Gi|k|m|g)?$/, "is not a size like 100Mi").default("100Mi"),
  logMaxFiles: z.number().int().min(2).max(100).default(5),
  /** HTTP(S) proxy for the runtime's image pulls; NO_PROXY always gets the pod, service and host networks added. */
  proxy: z
    .strictObject({
      http: httpUrl().optional(),
      https: httpUrl().optional(),
      noProxy: z.array(z.union([hostOrAddress(), cidr(), z.string().regex(/^\.[a-z0-9.-]+$/)])).default([]),
    })
    .optional(),
});

export type RuntimeInput = z.output<typeof runtimeSchema>;

export type ContainerdSource = "distro" | "docker-ce" | "release";
/** Kubernetes 1.35 is the last minor that supports containerd 1.x, which the distributions ship. */
export const CONTAINERD_2_REQUIRED_FROM = 36;

export function containerdSource(configured: ContainerdSource | undefined, minor: number): ContainerdSource {
  return configured ?? (minor >= CONTAINERD_2_REQUIRED_FROM ? "release" : "distro");
}

export function containerdConfigVersion(source: ContainerdSource, packageVersion: string | undefined): 2 | 3 {
  if (source === "release") return 3;
  if (source === "docker-ce" && packageVersion && Number(packageVersion.split(".")[0]) >= 2) return 3;
  return 2;
}
