import { Command } from './commands.js';

/**
 * The short link (`POST /v1/link`): request frames carried over HTTP while the long link is
 * down. Both ends read these, so the client never posts what the server would refuse.
 */
export const SHORT_LINK_PATH = '/v1/link';

/** Content type of the request and response bodies: frames exactly as on the long link. */
export const FRAME_CONTENT_TYPE = 'application/x-parley-frame';

/** Request frames per call, at most. */
export const SHORT_LINK_MAX_FRAMES = 32;

/**
 * Requests the short link carries: everything that needs no live session. LOGIN, rooms,
 * typing and presence subscriptions need the long link.
 */
export const SHORT_LINK_COMMANDS: ReadonlySet<number> = new Set<number>([
  Command.SEND,
  Command.RECALL,
  Command.CURSOR,
  Command.SYNC_CONVERSATIONS,
  Command.SYNC_MESSAGES,
  Command.HISTORY,
  Command.CONV_CREATE,
  Command.CONV_GET,
  Command.CONV_LIST,
  Command.CONV_UPDATE,
  Command.MEMBERS_LIST,
  Command.MEMBERS_ADD,
  Command.MEMBERS_REMOVE,
  Command.CONV_LEAVE,
  Command.MEMBER_ROLE,
  Command.MEMBER_SPEAK_MUTE,
  Command.CONV_MUTE,
  Command.PRESENCE_QUERY,
  Command.PING,
]);
