import { ErrorCode, ParleyError, pb } from '@parley/protocol';
import { z } from 'zod';
import type { PushDevice, PushSettings } from '../push/types.js';
import type { HttpApiParts } from './api.js';
import { type AnyRoute, requestSchema, responseSchema, route } from './route.js';
import { userParam } from './users.js';

const RegisterPush = requestSchema(
  'RegisterPush',
  z.object({
    provider: z.enum(['apns', 'fcm', 'webpush']),
    token: z.string().max(4096).optional().describe('APNs device token (hex) or FCM registration token'),
    subscription: z
      .union([z.string().max(4096), z.record(z.string(), z.unknown())])
      .optional()
      .describe('Web Push: the PushSubscription (JSON object or its text)'),
    topic: z.string().max(255).optional().describe('APNs topic (bundle id); default push.apnsTopic'),
    apnsEnvironment: z.enum(['sandbox', 'production']).optional().describe('Default production'),
    locale: z.string().max(35).optional().describe('BCP 47 language of the notifications'),
  }),
);
const PushDeviceJson = responseSchema(
  'PushDevice',
  z.object({
    deviceId: z.string(),
    provider: z.enum(['apns', 'fcm', 'webpush']),
    tokenHint: z.string().describe('The last characters of the token or endpoint, to tell registrations apart'),
    topic: z.string(),
    apnsEnvironment: z.enum(['sandbox', 'production']),
    locale: z.string(),
    updatedAt: z.number().int(),
  }),
);
const PushSettingsBody = requestSchema(
  'PushSettingsRequest',
  z.object({
    preview: z.enum(['full', 'sender', 'none']).default('full').describe('What notifications show'),
    dndEnabled: z.boolean().default(false).describe('Do-not-disturb hours: notifications arrive silently'),
    dndStartMinute: z.number().int().min(0).max(1439).default(0).describe('Minutes after local midnight'),
    dndEndMinute: z.number().int().min(0).max(1439).default(0).describe('May be below start (wraps midnight)'),
    timeZone: z.string().max(64).default('').describe('IANA name; empty = UTC'),
  }),
);
const PushSettingsJson = responseSchema(
  'PushSettings',
  z.object({
    preview: z.enum(['full', 'sender', 'none']),
    dndEnabled: z.boolean(),
    dndStartMinute: z.number().int(),
    dndEndMinute: z.number().int(),
    timeZone: z.string(),
  }),
);
const UserPush = responseSchema('UserPush', z.object({ devices: z.array(PushDeviceJson), settings: PushSettingsJson }));
const Removed = responseSchema('PushRemoved', z.object({ removed: z.boolean() }));
const VapidKey = responseSchema(
  'VapidPublicKey',
  z.object({
    publicKey: z.string().describe('base64url P-256 point: applicationServerKey for pushManager.subscribe()'),
  }),
);

const DEVICE_PARAMS = { userId: 'User id (URL-encoded)', deviceId: 'Device id (URL-encoded)' };
const PREVIEW = {
  full: pb.PushPreview.PUSH_PREVIEW_FULL,
  sender: pb.PushPreview.PUSH_PREVIEW_SENDER_ONLY,
  none: pb.PushPreview.PUSH_PREVIEW_NONE,
};

/** Push registrations and preferences for the app's server, and the VAPID key for the web app. */
export function pushRoutes(parts: HttpApiParts): AnyRoute[] {
  const { ctx } = parts;
  return [
    route({
      method: 'get',
      path: '/v1/push/web/vapid-public-key',
      operationId: 'getVapidPublicKey',
      tag: 'push',
      summary: "The server's VAPID public key for Web Push subscriptions",
      description:
        'The web app passes it as applicationServerKey to pushManager.subscribe() and registers the ' +
        'subscription with PUSH_REGISTER (provider WEB_PUSH).',
      admin: false,
      ok: { description: 'The key', schema: VapidKey },
      errors: { 404: 'Web Push is off on this server' },
      handle: () => {
        const publicKey = ctx.push.vapidPublicKey;
        if (!publicKey) throw new ParleyError(ErrorCode.NOT_FOUND, 'Web Push is off on this server');
        return { json: { publicKey } };
      },
    }),
    route({
      method: 'get',
      path: '/v1/users/{userId}/push',
      operationId: 'getUserPush',
      tag: 'push',
      summary: "A user's push registrations and notification preferences",
      admin: true,
      params: { userId: DEVICE_PARAMS.userId },
      ok: { description: 'Devices and preferences', schema: UserPush },
      handle: async ({ params }) => {
        const userId = userParam(params);
        const [devices, settings] = await Promise.all([ctx.push.devices(userId), ctx.push.settings(userId)]);
        return { json: { devices: devices.map(deviceJson), settings: settingsJson(settings) } };
      },
    }),
    route({
      method: 'post',
      path: '/v1/users/{userId}/devices/{deviceId}/push',
      operationId: 'registerPush',
      tag: 'push',
      summary: "Register (or replace) a device's push credentials",
      description: 'The same as the device sending PUSH_REGISTER itself. A token held by another device moves here.',
      admin: true,
      params: DEVICE_PARAMS,
      body: RegisterPush,
      ok: { description: 'The registration', schema: PushDeviceJson },
      handle: async ({ params, body }) => {
        const device = await ctx.push.register(userParam(params), userParam(params, 'deviceId'), {
          provider:
            body.provider === 'apns'
              ? pb.PushProvider.APNS
              : body.provider === 'fcm'
                ? pb.PushProvider.FCM
                : pb.PushProvider.WEB_PUSH,
          token: body.token ?? '',
          webPushSubscription:
            typeof body.subscription === 'string' ? body.subscription : JSON.stringify(body.subscription ?? ''),
          topic: body.topic ?? '',
          apnsEnvironment:
            body.apnsEnvironment === 'sandbox' ? pb.ApnsEnvironment.SANDBOX : pb.ApnsEnvironment.PRODUCTION,
          locale: body.locale ?? '',
        });
        return { json: deviceJson(device) };
      },
    }),
    route({
      method: 'delete',
      path: '/v1/users/{userId}/devices/{deviceId}/push',
      operationId: 'unregisterPush',
      tag: 'push',
      summary: "Remove a device's push registration (and its queued notifications)",
      admin: true,
      params: DEVICE_PARAMS,
      ok: { description: 'Whether there was one', schema: Removed },
      handle: async ({ params }) => ({
        json: { removed: await ctx.push.unregister(userParam(params), userParam(params, 'deviceId')) },
      }),
    }),
    route({
      method: 'post',
      path: '/v1/users/{userId}/push-settings',
      operationId: 'setPushSettings',
      tag: 'push',
      summary: "Replace a user's notification preferences",
      description: 'The same as PUSH_SETTINGS from one of the user’s devices.',
      admin: true,
      params: { userId: DEVICE_PARAMS.userId },
      body: PushSettingsBody,
      ok: { description: 'The preferences now', schema: PushSettingsJson },
      handle: async ({ params, body }) => {
        const settings = await ctx.push.saveSettings(userParam(params), {
          preview: PREVIEW[body.preview],
          dndEnabled: body.dndEnabled,
          dndStartMinute: body.dndStartMinute,
          dndEndMinute: body.dndEndMinute,
          timeZone: body.timeZone,
        });
        return { json: settingsJson(settings) };
      },
    }),
  ];
}

function deviceJson(d: PushDevice): z.infer<typeof PushDeviceJson> {
  return {
    deviceId: d.deviceId,
    provider: d.provider,
    tokenHint: `…${d.token.slice(-8)}`,
    topic: d.topic,
    apnsEnvironment: d.environment,
    locale: d.locale,
    updatedAt: d.updatedAt,
  };
}

function settingsJson(s: PushSettings): z.infer<typeof PushSettingsJson> {
  return {
    preview: s.preview,
    dndEnabled: s.dndEnabled,
    dndStartMinute: s.dndStartMinute,
    dndEndMinute: s.dndEndMinute,
    timeZone: s.timeZone,
  };
}
