import { refreshedInputs, withoutUndefined } from "./common";
import { isUnreachable } from "./ssh";

/**
 * A provider's read: the live state, or, when the host cannot be reached, the last known state
 * marked `unreachable` (never reported as deleted); the next `up` verifies it again.
 */
export async function refreshOrKeep<S extends object>(id: string, props: S, inputKeys: readonly string[], live: () => Promise<S>) {
  try {
    const state = withoutUndefined(await live());
    return { id, props: state, inputs: refreshedInputs(state, inputKeys) };
  } catch (e) {
    if (!isUnreachable(e)) throw e;
    const state = withoutUndefined({ ...props, unreachable: (e as Error).message });
    return { id, props: state, inputs: refreshedInputs(state, inputKeys) };
  }
}
