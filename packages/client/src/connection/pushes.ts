import { type CommandWith, ErrorCode, type Frame, type FrameCodec, ProtocolError, type PushOf } from '@parley/protocol';
import type { Push } from './types.js';

type Listener = (body: never) => void;

/** Decodes pushes and hands them to the listeners of their command. */
export class PushRouter {
  readonly #listeners = new Map<number, Set<Listener>>();

  on<C extends CommandWith<'push'>>(command: C, listener: (body: PushOf<C>) => void): () => void {
    let set = this.#listeners.get(command);
    if (!set) this.#listeners.set(command, (set = new Set()));
    const entry = listener as Listener;
    set.add(entry);
    return () => {
      set.delete(entry);
    };
  }

  /**
   * Decodes a push frame; undefined for a command this build does not know (a newer server:
   * skipped, not an error). Throws ProtocolError for a body that does not decode.
   */
  decode(codec: FrameCodec, frame: Frame): Push | undefined {
    try {
      return { command: frame.command, body: codec.decode(frame, 'push') } as Push;
    } catch (err) {
      if (err instanceof ProtocolError && err.code === ErrorCode.UNKNOWN_COMMAND) return undefined;
      throw err;
    }
  }

  deliver(push: Push): void {
    const set = this.#listeners.get(push.command);
    if (!set) return;
    for (const listener of [...set]) listener(push.body as never);
  }
}
