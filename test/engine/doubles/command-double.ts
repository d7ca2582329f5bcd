/**
 * TEST DOUBLE of the `command` provider plugin's `command:remote:Command` (engine tier only;
 * docs/engine-tests.md). The real plugin (github.com/pulumi/pulumi-command) cannot be built
 * here, so this Node implementation serves the same resource type, inputs and outputs under
 * the same plugin name and version, and runs a step the way the real provider does
 * (provider/pkg/provider/remote/command{Controller,Outputs}.go):
 *
 * - create: the `create` string as the command of ONE SSH exec request, `stdin` written to it,
 *   stdout and stderr kept (one trailing newline trimmed); update: `update` if given, else
 *   `create`, the same way; delete: `delete`, if given; read (refresh): the state unchanged.
 * - a failed command is `<err>: running <Go %q of the command>:\n<stdout and stderr>`, with
 *   `<err>` as golang.org/x/crypto/ssh words it ("Process exited with status N"); a failed
 *   create still records the resource (an initialization failure), so the next `up` updates it.
 * - diff: any changed input is an in-place update, except `triggers`, which replaces.
 * - the id is the resource name plus 8 random hex digits.
 *
 * Not reproduced: the live streaming of output into the engine's log, `environment`,
 * `addPreviousOutputInEnv` exports, proxies, agents and the provider's own retry of the dial
 * beyond `dialErrorLimit` attempts.
 */
import { randomBytes } from "node:crypto";
import { Client, type ConnectConfig } from "ssh2";
import { goQuote } from "./go-quote";
import { changedKeys, reveal, type Props } from "./wire";

export const COMMAND_TYPE = "command:remote:Command";
const OUTPUT_ONLY = ["stdout", "stderr"];

interface Connection {
  host: string;
  port?: number;
  user?: string;
  privateKey?: string;
  password?: string;
  hostKey?: string;
  dialErrorLimit?: number;
  perDialTimeout?: number;
  proxy?: unknown;
  agentSocketPath?: string;
}

function connect(c: Connection): Promise<Client> {
  if (c.proxy || c.agentSocketPath) throw new Error("command double: proxy and agentSocketPath connections are not implemented");
  const config: ConnectConfig = {
    host: c.host,
    port: c.port ?? 22,
    username: c.user ?? "root",
    privateKey: c.privateKey,
    password: c.password,
    readyTimeout: (c.perDialTimeout ?? 15) * 1000,
  };
  if (c.hostKey) {
    const expected = Buffer.from(c.hostKey.trim().split(/\s+/)[1] ?? "", "base64");
    config.hostVerifier = (key: Buffer) => key.equals(expected);
  }
  const attempts = Math.max(1, c.dialErrorLimit ?? 10);
  const dial = (left: number): Promise<Client> =>
    new Promise<Client>((resolve, reject) => {
      const client = new Client();
      client.once("ready", () => resolve(client));
      client.once("error", reject);
      client.connect(config);
    }).catch(async (e: Error) => {
      if (left <= 1) throw new Error(`failed to dial remote host: ${e.message}`);
      await new Promise((r) => setTimeout(r, 1000));
      return dial(left - 1);
    });
  return dial(attempts);
}

/** Runs one command over one SSH exec request, as the provider's `run` does. */
export async function runRemote(connection: Connection, command: string, stdin: string | undefined): Promise<{ stdout: string; stderr: string }> {
  const client = await connect(connection);
  try {
    return await new Promise((resolve, reject) => {
      client.exec(command, (err, stream) => {
        if (err) return reject(err);
        const out: Buffer[] = [];
        const errOut: Buffer[] = [];
        const both: Buffer[] = [];
        let code: number | undefined;
        let signal: string | undefined;
        stream.on("data", (d: Buffer) => (out.push(d), both.push(d)));
        stream.stderr.on("data", (d: Buffer) => (errOut.push(d), both.push(d)));
        stream.on("exit", (c: number | null, s?: string) => {
          code = c ?? undefined;
          signal = s;
        });
        stream.on("close", () => {
          if (code === 0) {
            const trim = (b: Buffer[]) => Buffer.concat(b).toString("utf8").replace(/\n$/, "");
            return resolve({ stdout: trim(out), stderr: trim(errOut) });
          }
          const cause =
            code === undefined && signal === undefined
              ? "wait: remote command exited without exit status or exit signal"
              : signal !== undefined
                ? `Process exited with status ${code ?? -1} from signal ${signal}`
                : `Process exited with status ${code}`;
          reject(new Error(`${cause}: running ${goQuote(command)}:\n${Buffer.concat(both).toString("utf8")}`));
        });
        if (stdin) stream.end(stdin);
        else stream.end();
      });
    });
  } finally {
    client.end();
  }
}

async function run(props: Props, which: "create" | "update" | "delete"): Promise<Props> {
  const command = reveal(props[which]) as string | undefined;
  if (command === undefined) return props;
  const result = await runRemote(reveal(props.connection) as Connection, command, reveal(props.stdin) as string | undefined);
  return { ...props, ...result };
}

/** A step the engine should record although its command failed: the init-failure the SDK's provider server understands. */
function initFailure(e: unknown, id: string, properties: Props): Error {
  const error = e instanceof Error ? e : new Error(String(e));
  return Object.assign(error, { id, properties, reasons: [error.message] });
}

export const commandDouble = {
  async check(_urn: string, _olds: Props, news: Props) {
    return { inputs: news };
  },
  async diff(_id: string, _urn: string, olds: Props, news: Props) {
    const changed = changedKeys(olds, news, OUTPUT_ONLY);
    return { changes: changed.length > 0, replaces: changed.filter((k) => k === "triggers") };
  },
  async create(urn: string, inputs: Props) {
    const id = `${urn.split("::").pop()}${randomBytes(4).toString("hex")}`;
    try {
      return { id, outs: await run(inputs, "create") };
    } catch (e) {
      throw initFailure(e, id, inputs);
    }
  },
  async update(id: string, _urn: string, olds: Props, news: Props) {
    const state = { ...news, stdout: olds.stdout, stderr: olds.stderr };
    try {
      return { outs: await run(state, news.update !== undefined ? "update" : "create") };
    } catch (e) {
      throw initFailure(e, id, state);
    }
  },
  async delete(_id: string, _urn: string, props: Props) {
    await run(props, "delete");
  },
  async read(id: string, _urn: string, props: Props) {
    const inputs = Object.fromEntries(Object.entries(props).filter(([k]) => !OUTPUT_ONLY.includes(k)));
    return { id, props, inputs };
  },
};
