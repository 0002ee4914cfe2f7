import type { Command } from '@parley/protocol';
import type { Handler } from './dispatch.js';

/** Registers (or replaces) this device's push credentials. */
export const pushRegister: Handler<typeof Command.PUSH_REGISTER> = async (session, req) => {
  await session.ctx.push.register(session.userId, session.deviceId, req, session.locale);
  return {};
};

/** Removes this device's push registration (and its queued notifications). */
export const pushUnregister: Handler<typeof Command.PUSH_UNREGISTER> = async (session) => {
  await session.ctx.push.unregister(session.userId, session.deviceId);
  return {};
};

/** Replaces the user's notification preferences (all devices). */
export const pushSettings: Handler<typeof Command.PUSH_SETTINGS> = async (session, req) => {
  await session.ctx.push.saveSettings(session.userId, req);
  return {};
};
