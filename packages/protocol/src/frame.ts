/** One decoded frame: the header fields and the still-encoded body. */
export interface Frame {
  /** Command number (see `Command`). */
  command: number;
  /** Request sequence: echoed by the response; 0 on pushes and one-way requests. */
  seq: number;
  /** Flag bits (see `Flags`). */
  flags: number;
  /**
   * The body bytes as received (still compressed if `Flags.COMPRESSED` is set). When the
   * frame arrived whole inside one chunk this is a view into that chunk, not a copy: decode
   * it before holding on to it for long.
   */
  body: Uint8Array;
}

export const EMPTY_BODY = new Uint8Array(0);
