/**
 * Push notifications: the records the push queue keeps and the store interface they live
 * behind. The SQLite implementation shares the SqliteStore's database file
 * (sqlite-push-store.ts); every implementation passes test/push-store-contract.ts.
 */

/** Which push service reaches a device. */
export type PushProviderName = 'apns' | 'fcm' | 'webpush';

export type ApnsEnvironmentName = 'sandbox' | 'production';

/** One device's push registration. (userId, deviceId) is the key; a token belongs to one device. */
export interface PushDevice {
  userId: string;
  deviceId: string;
  provider: PushProviderName;
  /** APNs device token (hex), FCM registration token, or the Web Push subscription's endpoint URL. */
  token: string;
  /** Web Push: the subscription's keys as JSON `{"p256dh": ..., "auth": ...}`; '' otherwise. */
  webKeys: string;
  /** APNs topic (bundle id); '' = the configured default. */
  topic: string;
  environment: ApnsEnvironmentName;
  /** BCP 47, for the notification's language. */
  locale: string;
  updatedAt: number;
}

/** What a notification shows. */
export type PreviewMode = 'full' | 'sender' | 'none';

/** A user's notification preferences, for all of their devices. */
export interface PushSettings {
  userId: string;
  preview: PreviewMode;
  dndEnabled: boolean;
  /** Minutes after local midnight, 0..1439; the window may wrap midnight (end < start). */
  dndStartMinute: number;
  dndEndMinute: number;
  /** IANA time zone name; '' = UTC. */
  timeZone: string;
  updatedAt: number;
}

/** A device that may get a notification for a conversation, with that member's mute state. */
export interface PushTarget {
  device: PushDevice;
  /** The member muted the conversation's notifications (and the mute has not run out). */
  muted: boolean;
}

/** One message for one device, as handed to `enqueue`. */
export interface PushEnqueueItem {
  userId: string;
  deviceId: string;
  conversationId: string;
  seq: number;
  /** The message mentions this user. */
  mentioned: boolean;
  /** Earliest send time: now + the coalescing window. */
  dueAt: number;
}

/**
 * One pending notification: every message to one device in one conversation that arrived
 * while the job waited (first..last seq, count). Claimed jobs carry a lease; a job whose
 * lease ran out (its worker died) is claimable again.
 */
export interface PushJob {
  id: number;
  userId: string;
  deviceId: string;
  conversationId: string;
  firstSeq: number;
  lastSeq: number;
  count: number;
  mentioned: boolean;
  dueAt: number;
  /** Sends tried so far (failed ones). */
  attempts: number;
  createdAt: number;
}

/**
 * Durable state of push: registrations, preferences and the queue.
 *
 * Rules every implementation keeps:
 * - `enqueue` is one durable transaction: once it resolves, a crash loses none of its items.
 * - Coalescing: an item joins the device's pending (unclaimed) job for the same conversation
 *   when there is one (count + 1, last seq moves, due time kept so a steady stream still
 *   goes out within the window); otherwise it starts a new job.
 * - `claim` hands a job to one owner at a time: until its lease runs out no other claim
 *   returns it. `complete`/`retry` act only while the caller still owns the job, so a worker
 *   whose lease ran out cannot delete another worker's claim.
 * - A token belongs to one device: registering it for a device removes it from any other.
 */
export interface PushStore {
  /** Creates or upgrades the push tables. Safe on every start. */
  migrate(): Promise<void>;

  /** Adds or replaces the device's registration (a token held by another device moves here). */
  registerDevice(device: PushDevice): Promise<void>;
  /** Removes the device's registration; false when there was none. */
  unregisterDevice(userId: string, deviceId: string): Promise<boolean>;
  /** Removes a token the provider reported gone; a newer token of the device is kept. */
  removeToken(provider: PushProviderName, token: string): Promise<boolean>;
  getDevice(userId: string, deviceId: string): Promise<PushDevice | undefined>;
  listDevices(userId: string): Promise<PushDevice[]>;

  getSettings(userId: string): Promise<PushSettings | undefined>;
  saveSettings(settings: PushSettings): Promise<void>;

  /**
   * Registered devices of the conversation's active members except `excludeUserId` (the
   * sender), each with the member's notification mute as of `now`.
   */
  targets(conversationId: string, excludeUserId: string, now: number): Promise<PushTarget[]>;
  /** The user's unread messages over all active conversations (the badge). */
  unreadTotal(userId: string): Promise<number>;

  /**
   * Stores a batch (one transaction), coalescing as described above, and in the same
   * transaction records each conversation's highest seq whose notifications are queued.
   */
  enqueue(items: readonly PushEnqueueItem[], now: number): Promise<void>;
  /**
   * The highest seq of the conversation whose notifications were queued (0 when none). A
   * resend of a message above it (the sender's retry after a crash between the message's
   * commit and the queue's) queues its notifications again.
   */
  queuedThrough(conversationId: string): Promise<number>;
  /** Claims up to `limit` due jobs (dueAt ≤ now, no live lease), oldest due first. */
  claim(owner: string, now: number, leaseMs: number, limit: number): Promise<PushJob[]>;
  /** Deletes a sent (or abandoned) job; false when `owner` no longer holds it. */
  complete(jobId: number, owner: string): Promise<boolean>;
  /**
   * Releases a job for another try at `dueAt` with attempts + 1. When the device got a newer
   * pending job for the conversation meanwhile, the two merge. False when not held by `owner`.
   */
  retry(jobId: number, owner: string, dueAt: number): Promise<boolean>;
  /** When the earliest job becomes claimable (due, and not leased), or undefined when none. */
  nextDueAt(): Promise<number | undefined>;
  /** Jobs waiting or in flight (for metrics and tests). */
  pendingCount(): Promise<number>;
}
