import { ErrorCode, ParleyError } from '@parley/protocol';

/**
 * One schema step of a migration list (the store's tables, or the push tables beside them).
 * Each engine's runner applies the steps above the recorded version in one transaction and
 * records them, so a step is either applied and recorded or neither. Steps are append-only:
 * never edit one that has shipped.
 */
export interface Migration {
  version: number;
  description: string;
  sql: string;
}

/** The highest version in `steps`: what a database migrated by this build is at. */
export function latestVersion(steps: readonly Migration[]): number {
  return steps.reduce((max, m) => Math.max(max, m.version), 0);
}

/**
 * The steps above the recorded version `from`, in list order. A schema written by a newer build
 * is refused rather than guessed at; `what` names it in the error ("database schema").
 */
export function stepsAfter(steps: readonly Migration[], from: number, what: string): Migration[] {
  const latest = latestVersion(steps);
  if (from > latest) {
    throw new ParleyError(
      ErrorCode.INTERNAL,
      `${what} version ${String(from)} is newer than this build's ${String(latest)}`,
    );
  }
  return steps.filter((m) => m.version > from);
}
