/**
 * TEST DOUBLE of the `random` provider plugin (engine tier only; docs/engine-tests.md): the
 * real plugin (github.com/pulumi/pulumi-random) cannot be built here. It serves the two types
 * the program uses with the real provider's inputs, outputs, ids and diff rules, values from
 * node:crypto:
 *
 * - `random:index/randomPassword:RandomPassword`: `result` drawn from the enabled character
 *   sets (upper, lower, numeric, special, `overrideSpecial`) honouring the `min*` counts; id
 *   "none". `bcryptHash` is NOT a bcrypt hash (node:crypto has none): it is an scrypt digest of
 *   the result, marked as the double's, so it is secret material of the same kind.
 * - `random:index/randomBytes:RandomBytes`: `length` bytes, as `base64` and `hex`; the id is the
 *   base64 value, as in the real provider (which is why a RandomBytes secret leaks through the
 *   state: the engine stores ids in plain text).
 * - every input change replaces (all inputs are ForceNew upstream); read keeps the state.
 */
import { randomBytes, randomInt, scryptSync } from "node:crypto";
import { changedKeys, type Props } from "./wire";

export const PASSWORD_TYPE = "random:index/randomPassword:RandomPassword";
export const BYTES_TYPE = "random:index/randomBytes:RandomBytes";
const OUTPUTS: Record<string, string[]> = { [PASSWORD_TYPE]: ["result", "bcryptHash"], [BYTES_TYPE]: ["base64", "hex"] };
const DEFAULT_SPECIAL = "!@#$%&*()-_=+[]{}<>:?";

const typeOf = (urn: string) => urn.split("::")[2].split("$").pop()!;

function withPasswordDefaults(p: Props): Props {
  const d: Props = { upper: true, lower: true, numeric: true, special: true, minUpper: 0, minLower: 0, minNumeric: 0, minSpecial: 0, ...p };
  if (d.number === undefined) d.number = d.numeric;
  return d;
}

export function password(p: Props): string {
  const length = Number(p.length);
  const sets: Array<[string, number]> = [];
  if (p.upper) sets.push(["ABCDEFGHIJKLMNOPQRSTUVWXYZ", Number(p.minUpper)]);
  if (p.lower) sets.push(["abcdefghijklmnopqrstuvwxyz", Number(p.minLower)]);
  if (p.numeric) sets.push(["0123456789", Number(p.minNumeric)]);
  if (p.special) sets.push([typeof p.overrideSpecial === "string" ? p.overrideSpecial : DEFAULT_SPECIAL, Number(p.minSpecial)]);
  const all = sets.map(([chars]) => chars).join("");
  if (!Number.isInteger(length) || length < 1 || all.length === 0) throw new Error(`random double: cannot make a password of length ${p.length} from no characters`);
  const pick = (chars: string) => chars[randomInt(chars.length)];
  const chars = sets.flatMap(([set, min]) => Array.from({ length: min }, () => pick(set)));
  while (chars.length < length) chars.push(pick(all));
  for (let i = chars.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j], chars[i]];
  }
  return chars.join("");
}

export const randomDouble = {
  async check(urn: string, _olds: Props, news: Props) {
    return { inputs: typeOf(urn) === PASSWORD_TYPE ? withPasswordDefaults(news) : news };
  },
  async diff(_id: string, urn: string, olds: Props, news: Props) {
    const changed = changedKeys(olds, news, OUTPUTS[typeOf(urn)] ?? []);
    return { changes: changed.length > 0, replaces: changed, deleteBeforeReplace: false };
  },
  async create(urn: string, inputs: Props): Promise<{ id: string; outs: Props }> {
    const type = typeOf(urn);
    if (type === PASSWORD_TYPE) {
      const result = password(inputs);
      const salt = randomBytes(16);
      const bcryptHash = `kop-test-double-scrypt$${salt.toString("base64")}$${scryptSync(result, salt, 32).toString("base64")}`;
      return { id: "none", outs: { ...inputs, result, bcryptHash } };
    }
    if (type === BYTES_TYPE) {
      const bytes = randomBytes(Number(inputs.length));
      return { id: bytes.toString("base64"), outs: { ...inputs, base64: bytes.toString("base64"), hex: bytes.toString("hex") } };
    }
    throw new Error(`random double: ${type} is not implemented (the program uses RandomPassword and RandomBytes)`);
  },
  async update(): Promise<never> {
    throw new Error("random double: every input change replaces, an update never happens");
  },
  async read(id: string, _urn: string, props: Props) {
    return { id, props };
  },
};
