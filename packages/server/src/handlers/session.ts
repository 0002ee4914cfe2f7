import { type Command, ErrorCode, ParleyError, pb } from '@parley/protocol';
import { ulid } from 'ulid';
import { validId } from '../auth/tokens.js';
import { SessionState } from '../session/session.js';
import type { Handler } from './dispatch.js';

export const login: Handler<typeof Command.LOGIN> = async (session, req) => {
  const { ctx } = session;
  if (session.state !== SessionState.Open)
    throw new ParleyError(ErrorCode.ALREADY_LOGGED_IN, 'this connection is logged in');
  if (ctx.draining) throw new ParleyError(ErrorCode.SHUTTING_DOWN, 'this server is shutting down; reconnect elsewhere');
  if (!validId(req.deviceId))
    throw new ParleyError(ErrorCode.INVALID_ARGUMENT, 'device_id must be 1 to 128 characters');
  session.state = SessionState.Authenticating;
  let identity;
  try {
    identity = await ctx.tokens.verify(req.token);
    if (identity.deviceId !== undefined && identity.deviceId !== req.deviceId) {
      throw new ParleyError(ErrorCode.TOKEN_INVALID, 'the token was issued for another device');
    }
  } catch (err) {
    if (session.is(SessionState.Authenticating)) session.state = SessionState.Open;
    if (++session.preLoginFrames > ctx.config.limits.preLoginFrames) {
      setImmediate(() => {
        session.kick(ErrorCode.UNAUTHENTICATED, 'too many failed logins');
      });
    }
    throw err;
  }
  // The connection may have closed while the token was checked.
  if (!session.is(SessionState.Authenticating)) throw new ParleyError(ErrorCode.UNAUTHENTICATED, 'connection closed');

  const { limits } = ctx.config;
  session.id = ulid();
  session.userId = identity.userId;
  session.deviceId = req.deviceId;
  session.platform = req.platform;
  session.appState = req.appState || pb.AppState.FOREGROUND;
  session.locale = req.locale.slice(0, 35);
  session.heartbeatMs = clampHeartbeat(req.heartbeatIntervalMs || limits.heartbeatDefaultMs, limits);

  const replaced = ctx.registry.add(session);
  replaced?.kick(ErrorCode.REPLACED_BY_DEVICE, 'this device logged in on another connection');
  if (limits.platformPolicy === 'one-per-platform' && session.platform !== pb.Platform.WEB) {
    for (const other of [...ctx.registry.sessionsOf(session.userId)]) {
      if (other !== session && other.platform === session.platform) {
        ctx.registry.remove(other);
        other.kick(ErrorCode.REPLACED_BY_PLATFORM, 'another device of this platform logged in');
      }
    }
  }
  // The same device (or platform, by policy) connected to another node gives way too; the
  // older session loses, so two racing logins never end both.
  ctx.bus.kickElsewhere(
    session.userId,
    { deviceId: session.deviceId },
    session.openedAt,
    ErrorCode.REPLACED_BY_DEVICE,
    'this device logged in on another connection',
  );
  if (limits.platformPolicy === 'one-per-platform' && session.platform !== pb.Platform.WEB) {
    ctx.bus.kickElsewhere(
      session.userId,
      { platform: session.platform },
      session.openedAt,
      ErrorCode.REPLACED_BY_PLATFORM,
      'another device of this platform logged in',
    );
  }
  session.activate();
  ctx.presence.sessionStarted(session, ctx.registry.sessionsOf(session.userId).length === 1);
  ctx.logger.debug(
    { user: session.userId, device: session.deviceId, transport: session.connection.transport },
    'login',
  );
  // Read after the session is registered, so a change it misses is pushed to it.
  let conversationVersion: number;
  try {
    conversationVersion = await ctx.store.userVersion(session.userId);
  } catch (err) {
    // The login is refused (UNAVAILABLE while the store is down): the session must not stay
    // logged in behind the client's back. End it once the answer is out.
    const reason = err instanceof ParleyError ? err.code : ErrorCode.INTERNAL;
    setImmediate(() => {
      session.kick(reason, 'login failed; reconnect and log in again');
    });
    throw err;
  }
  return {
    userId: session.userId,
    sessionId: session.id,
    serverTime: Date.now(),
    heartbeatIntervalMs: session.heartbeatMs,
    conversationVersion,
    limits: {
      maxFrameBytes: limits.maxFrameBytes,
      maxMessageBytes: limits.maxMessageBytes,
      sendsPerSecond: Math.floor(limits.sendsPerSecond),
      requestsPerSecond: Math.floor(limits.requestsPerSecond),
      minHeartbeatIntervalMs: limits.heartbeatMinMs,
      maxHeartbeatIntervalMs: limits.heartbeatMaxMs,
      recallWindowMs: limits.recallWindowMs,
    },
  };
};

export const logout: Handler<typeof Command.LOGOUT> = async (session, req) => {
  if (req.unregisterPush && session.ctx.push.pushStore) {
    await session.ctx.push.unregister(session.userId, session.deviceId);
  }
  // Answer first, then end the session.
  setImmediate(() => {
    session.kick(ErrorCode.LOGGED_OUT, 'logged out');
  });
  return {};
};

export const sessionUpdate: Handler<typeof Command.SESSION_UPDATE> = (session, req) => {
  if (req.heartbeatIntervalMs != null) {
    session.heartbeatMs = clampHeartbeat(req.heartbeatIntervalMs, session.ctx.config.limits);
  }
  if (req.appState && req.appState !== session.appState) {
    session.appState = req.appState;
    session.ctx.presence.appStateChanged(session);
  }
  return { heartbeatIntervalMs: session.heartbeatMs };
};

/**
 * Answers after `delay_ms` of silence (network diagnosis; see docs/protocol.md). The pending
 * probe pushes the heartbeat deadline out (`probeUntil`), since the client is silent on
 * purpose. The timer is the session's, cleared if the connection closes first (the promise
 * then never settles and is collected with the session).
 */
export const probe: Handler<typeof Command.PROBE> = (session, req) => {
  const max = session.ctx.config.limits.probeMaxDelayMs;
  if (req.delayMs > max) {
    throw new ParleyError(ErrorCode.INVALID_ARGUMENT, `delay_ms must be at most ${String(max)}`);
  }
  if (session.probeTimer !== undefined) {
    throw new ParleyError(ErrorCode.RATE_LIMITED, 'a probe is already waiting on this connection');
  }
  const started = Date.now();
  session.probeUntil = started + req.delayMs;
  return new Promise((resolve) => {
    // libuv rounds the loop clock, so a timer may fire a millisecond early by Date.now():
    // re-arm for the remainder so the answer never comes before the promised delay.
    const arm = (ms: number): void => {
      session.probeTimer = setTimeout(() => {
        const elapsed = Date.now() - started;
        if (elapsed < req.delayMs) {
          arm(req.delayMs - elapsed);
          return;
        }
        session.probeTimer = undefined;
        resolve({ delayedMs: elapsed });
      }, ms);
      session.probeTimer.unref();
    };
    arm(req.delayMs);
  });
};

function clampHeartbeat(ms: number, limits: { heartbeatMinMs: number; heartbeatMaxMs: number }): number {
  return Math.min(Math.max(ms, limits.heartbeatMinMs), limits.heartbeatMaxMs);
}
