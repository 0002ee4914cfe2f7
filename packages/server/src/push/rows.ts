import type { ApnsEnvironmentName, PreviewMode, PushDevice, PushJob, PushProviderName, PushSettings } from './types.js';

/**
 * The push tables' rows as either engine's driver returns them. `I` is how a wide integer
 * column arrives (better-sqlite3: a number; node-postgres: a bigint as decimal text), `B` how a
 * boolean does (SQLite: 0/1; PostgreSQL: a boolean). Plain integer columns are numbers on both.
 */
export interface DeviceRow<I> {
  user_id: string;
  device_id: string;
  provider: string;
  token: string;
  web_keys: string;
  topic: string;
  environment: string;
  locale: string;
  updated_at: I;
}

export interface SettingsRow<I, B> {
  user_id: string;
  preview: string;
  dnd_enabled: B;
  dnd_start: number;
  dnd_end: number;
  time_zone: string;
  updated_at: I;
}

export interface JobRow<I, B> {
  id: I;
  user_id: string;
  device_id: string;
  conversation_id: string;
  first_seq: I;
  last_seq: I;
  count: number;
  mentioned: B;
  due_at: I;
  attempts: number;
  created_at: I;
}

/** How one engine's column values become numbers and booleans. */
export interface Columns<I, B> {
  int(value: I): number;
  bool(value: B): boolean;
}

/** The row mappers of one engine: `device`, `settings` and `job` turn its rows into records. */
export function rowMappers<I, B>(c: Columns<I, B>) {
  return {
    device: (r: DeviceRow<I>): PushDevice => ({
      userId: r.user_id,
      deviceId: r.device_id,
      provider: r.provider as PushProviderName,
      token: r.token,
      webKeys: r.web_keys,
      topic: r.topic,
      environment: r.environment as ApnsEnvironmentName,
      locale: r.locale,
      updatedAt: c.int(r.updated_at),
    }),
    settings: (r: SettingsRow<I, B>): PushSettings => ({
      userId: r.user_id,
      preview: r.preview as PreviewMode,
      dndEnabled: c.bool(r.dnd_enabled),
      dndStartMinute: r.dnd_start,
      dndEndMinute: r.dnd_end,
      timeZone: r.time_zone,
      updatedAt: c.int(r.updated_at),
    }),
    job: (r: JobRow<I, B>): PushJob => ({
      id: c.int(r.id),
      userId: r.user_id,
      deviceId: r.device_id,
      conversationId: r.conversation_id,
      firstSeq: c.int(r.first_seq),
      lastSeq: c.int(r.last_seq),
      count: r.count,
      mentioned: c.bool(r.mentioned),
      dueAt: c.int(r.due_at),
      attempts: r.attempts,
      createdAt: c.int(r.created_at),
    }),
  };
}
