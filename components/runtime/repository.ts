import type { ClusterModel } from "../config";
import type { Repository } from "../host/package-manager";

export const DOCKER_REPO = "docker";

/**
 * The Docker CE repository under cluster:mirrors.dockerPackages. apt: per distribution and release,
 * <base>/<debian|ubuntu> <codename> stable, read from /etc/os-release on the host. dnf: Docker's
 * CentOS repository, the one Docker documents for Rocky and AlmaLinux, whose el9/el10 packages are
 * the RHEL ones; dnf fills in $releasever (9, 10) and $basearch itself.
 */
export function dockerPackageRepository(model: ClusterModel): Repository {
  const base = model.mirrors.dockerPackages.replace(/\/$/, "");
  if (model.os.family === "rhel") {
    return { format: "rpm", name: DOCKER_REPO, baseUrl: `${base}/centos/$releasever/$basearch/stable`, keyUrl: `${base}/centos/gpg` };
  }
  return { format: "deb", name: DOCKER_REPO, url: `${base}/\${ID}`, suite: "${VERSION_CODENAME}", components: ["stable"], keyUrl: `${base}/\${ID}/gpg` };
}
