import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";

export interface FileServer {
  /** http://<address>:<port>: a path under the served directory is appended to it. */
  url: string;
  /** Every request path, in order (what the hosts downloaded). */
  requests: string[];
  /** Stops the server and removes the served directory. */
  stop(): Promise<void>;
}

/**
 * Serves the files under `root` over plain HTTP on `address` (the bridge's gateway, so the test
 * hosts reach it): a stand-in for a release mirror (cluster:mirrors.releases.*). Anything that is
 * not a regular file under root is a 404.
 */
export async function serveDirectory(root: string, address: string): Promise<FileServer> {
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    const file = path.join(root, path.normalize(req.url ?? "/"));
    requests.push(req.url ?? "");
    if (!file.startsWith(root) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200);
    fs.createReadStream(file).pipe(res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, address, () => resolve());
  });
  return {
    url: `http://${address}:${(server.address() as AddressInfo).port}`,
    requests,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        fs.rmSync(root, { recursive: true, force: true });
      }),
  };
}
