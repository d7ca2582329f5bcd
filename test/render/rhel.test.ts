/**
 * The files dnf and firewalld read on RHEL-family hosts, checked by their real readers (Debian 12
 * packages them): the .repo files the rendered scripts write, parsed by dnf's own configuration
 * code (python3-dnf, libdnf), and each host's firewalld service, read by firewalld's service
 * reader (python3-firewall), which rejects bad ports and unknown protocols. Neither talks to a
 * repository or a running firewalld: no RHEL-family host can be built here (docs/rhel.md).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { loadStackFile } from "../../components/config";
import { firewalldServiceFile, FIREWALLD_SERVICE } from "../../components/host/firewalld";
import { planCluster } from "../../components/plan";
import { requireTool, run } from "../support/tools";

const STACKS = fs
  .readdirSync(path.join(__dirname, "..", "..", "stacks"))
  .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
  .filter((s): s is string => s !== undefined)
  .filter((s) => loadStackFile(s).os.family === "rhel");

/** The lines of a script that write a .repo file, run with kop_put writing under `root`. */
function writeRepoFiles(text: string, root: string): void {
  // The statement spans lines: the file's text is one single-quoted word.
  const lines = [...text.matchAll(/^if printf '%s' '(?:[^']|'\\'')*' \| kop_put \/etc\/yum\.repos\.d\/.*$/gm)].map((m) => m[0]);
  expect(lines.length).toBeGreaterThan(0);
  const stub = 'kop_put() { mkdir -p "$ROOT$(dirname "$1")"; cat >"$ROOT$1"; }\ndnf() { :; }';
  const result = run("bash", ["-c", `set -euo pipefail\nROOT=${root}\n${stub}\n${lines.join("\n")}`]);
  expect(result.stderr).toBe("");
  expect(result.code).toBe(0);
}

describe("RHEL-family files, read by dnf and firewalld", () => {
  const python = requireTool("/usr/bin/python3", "python3");
  it("finds the Rocky stack", () => expect(STACKS).toContain("rocky9"));

  for (const stack of STACKS) {
    it(`stack ${stack}: dnf reads the Kubernetes and Docker CE repositories the scripts write`, () => {
      const model = loadStackFile(stack);
      const steps = planCluster(model).steps;
      const root = fs.mkdtempSync(path.join(os.tmpdir(), `kop-dnf-${stack}-`));
      for (const id of ["kube-packages", "runtime-install"]) writeRepoFiles(steps.find((s) => s.id === `${model.nodes[0].name}/${id}`)!.script, root);
      const reposdir = path.join(root, "etc/yum.repos.d");
      const parse = [
        "import dnf, json, sys",
        "b = dnf.Base()",
        `b.conf.reposdir = [${JSON.stringify(reposdir)}]`,
        "b.conf.substitutions['releasever'] = '9'",
        "b.conf.substitutions['basearch'] = 'x86_64'",
        "b.read_all_repos()",
        "print(json.dumps({r.id: {'baseurl': list(r.baseurl), 'gpgkey': list(r.gpgkey), 'gpgcheck': r.gpgcheck, 'enabled': r.enabled} for r in b.repos.all()}))",
      ].join("\n");
      const result = run(python, ["-c", parse]);
      if (result.code !== 0 && /No module named 'dnf'/.test(result.stderr)) throw new Error("python3-dnf is not installed: run `apt-get install -y python3-dnf` (.ci/run does this)");
      expect(result.stderr).toBe("");
      const base = model.mirrors.kubernetesPackages.replace(/\/$/, "");
      const docker = model.mirrors.dockerPackages.replace(/\/$/, "");
      expect(JSON.parse(result.stdout)).toEqual({
        "kubeadm-on-pulumi-kubernetes": {
          baseurl: [`${base}/${model.kubernetes.minorTag}/rpm/`],
          gpgkey: ["file:///etc/pki/rpm-gpg/kubeadm-on-pulumi-kubernetes.asc"],
          gpgcheck: true,
          enabled: true,
        },
        "kubeadm-on-pulumi-docker": {
          baseurl: [`${docker}/centos/9/x86_64/stable`],
          gpgkey: ["file:///etc/pki/rpm-gpg/kubeadm-on-pulumi-docker.asc"],
          gpgcheck: true,
          enabled: true,
        },
      });
      fs.rmSync(root, { recursive: true, force: true });
    });

    it(`stack ${stack}: firewalld's service reader accepts every host's service file`, () => {
      const model = loadStackFile(stack);
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), `kop-firewalld-${stack}-`));
      const reader = [
        "import json, sys",
        "from firewall.core.io.service import service_reader",
        `s = service_reader('${FIREWALLD_SERVICE}.xml', sys.argv[1])`,
        "print(json.dumps({'ports': [list(p) for p in s.ports], 'protocols': s.protocols}))",
      ].join("\n");
      for (const host of model.hosts) {
        const file = firewalldServiceFile(model, host);
        fs.writeFileSync(path.join(dir, `${FIREWALLD_SERVICE}.xml`), file.content);
        const result = run(python, ["-c", reader, dir]);
        if (result.code !== 0 && /No module named 'firewall'/.test(result.stderr)) throw new Error("python3-firewall is not installed: run `apt-get install -y python3-firewall` (.ci/run does this)");
        expect(result.stderr, host.name).toBe("");
        const read = JSON.parse(result.stdout) as { ports: string[][]; protocols: string[] };
        const expected = [...file.content.matchAll(/<port protocol="(\w+)" port="([\d-]+)"\/>/g)].map((m) => [m[2], m[1]]);
        expect(read.ports, host.name).toEqual(expected);
        expect(read.ports.length).toBeGreaterThan(0);
        if (model.loadBalancers.includes(host)) expect(read.protocols).toContain("vrrp");
      }
      fs.rmSync(dir, { recursive: true, force: true });
    });
  }
});
