import { z } from "zod";
import { cidr, hostOrAddress, httpUrl, semver } from "./fields";

export const runtimeSchema = z.strictObject({
  kind: z.enum(["containerd", "docker"]).default("containerd"),
  containerd: z
    .strictObject({
      /** "distro": the OS's containerd package; "docker-ce": containerd.io from the Docker repository. */
      source: z.enum(["distro", "docker-ce"]).default("distro"),
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
      criDockerdVersion: semver().default("0.3.16"),
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
