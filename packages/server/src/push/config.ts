import { z } from 'zod';

const ms = z.coerce.number().int().min(0);
const bool = z.preprocess(
  (v) => (typeof v === 'string' ? !['false', '0', 'no', 'off', ''].includes(v) : v),
  z.boolean(),
);
const url = z.string().refine((s) => s === '' || /^https?:\/\/[^/]+/.test(s), { error: 'must be an http(s) URL' });

/**
 * The `push` section of the server configuration. Keys are flat (one level below `push`) so
 * every one has an environment name: `push.apnsTeamId` is `PARLEY_PUSH_APNS_TEAM_ID`.
 * A provider is on when its credentials are given (Web Push: always, with keys made in the
 * data directory when none are configured). docs/push.md explains each key.
 */
export const pushConfigSchema = z
  .object({
    /** Off: registrations are refused with UNSUPPORTED and nothing is queued. */
    enabled: bool.default(true),
    /** Messages to one device in one conversation within this window become one notification. */
    coalesceMs: ms.default(1_500),
    /** How long a worker owns a claimed job; a crashed worker's jobs are retried after it. */
    leaseMs: ms.min(1_000).default(30_000),
    /** Attempts per notification before it is dropped (counted as `gave_up`). */
    maxAttempts: z.coerce.number().int().min(1).default(12),
    /** Retry backoff: base * 2^attempt with jitter, capped; a provider's Retry-After wins when longer. */
    retryBaseMs: ms.default(1_000),
    retryMaxMs: ms.default(10 * 60_000),
    /** How often the worker looks for due jobs when nothing woke it. */
    pollMs: ms.min(10).default(1_000),
    /** Notifications in flight at once, all providers together. */
    concurrency: z.coerce.number().int().min(1).default(64),
    /** How long a provider keeps an undelivered notification (apns-expiration, FCM ttl, Web Push TTL). */
    ttlSeconds: z.coerce
      .number()
      .int()
      .min(0)
      .default(24 * 3600),
    /** Characters of message text shown in a preview. */
    previewChars: z.coerce.number().int().min(10).max(1000).default(120),
    /** PEM file of extra certificate authorities trusted for provider connections (tests, TLS-inspecting proxies). */
    caFile: z.string().default(''),

    /** APNs token auth: the Apple Developer team id, the key id and the .p8 key file. */
    apnsTeamId: z.string().default(''),
    apnsKeyId: z.string().default(''),
    apnsKeyFile: z.string().default(''),
    /** Default apns-topic (the app's bundle id) for devices that register without one. */
    apnsTopic: z.string().default(''),
    apnsProductionUrl: url.default('https://api.push.apple.com'),
    apnsSandboxUrl: url.default('https://api.sandbox.push.apple.com'),
    /** Concurrent streams per APNs connection (the server's own limit applies when lower). */
    apnsMaxStreams: z.coerce.number().int().min(1).default(100),

    /** FCM HTTP v1: the service account JSON file from the Firebase console. */
    fcmServiceAccountFile: z.string().default(''),
    fcmEndpoint: url.default('https://fcm.googleapis.com'),
    /** OAuth2 token endpoint; empty = the service account's token_uri. */
    fcmTokenEndpoint: url.default(''),

    webPush: bool.default(true),
    /** VAPID key pair (base64url); generated into <dataDir>/vapid.json when empty. */
    webPushPublicKey: z.string().default(''),
    webPushPrivateKey: z.string().default(''),
    /** VAPID subject: a mailto: or https: contact for push services. */
    webPushSubject: z
      .string()
      .refine((s) => /^(mailto:|https:\/\/)/.test(s), { error: 'must start with mailto: or https://' })
      .default('mailto:push@parley.invalid'),
    /** Accept http:// subscription endpoints (local test push services only; never in production). */
    webPushAllowHttp: bool.default(false),
    /**
     * Accept subscription endpoints on loopback, private, link-local and unique-local addresses
     * (tests, push services inside a private network). Off, the server refuses to be pointed
     * at its own network by a client (SSRF), at registration and again at send time.
     */
    webPushAllowPrivateEndpoints: bool.default(false),
  })
  .prefault({});

export type PushConfig = z.infer<typeof pushConfigSchema>;
