/**
 * Heartbeat interval every benchmark client asks for and every Parley-framed server grants:
 * long enough that idle connections need no pings while a scenario runs, and still inside
 * the server's accepted range. The `connections` scenario pings on its own schedule instead.
 */
export const BENCH_HEARTBEAT_MS = 10 * 60_000;
