import { Command } from '@parley/protocol';

/**
 * Requests the server takes over the short link (its `/v1/link` ALLOWED set): everything that
 * needs no live session. LOGIN, rooms, typing and presence subscriptions need the long link.
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

/** Request frames per call, at most (the server's limit). */
export const SHORT_LINK_MAX_FRAMES = 32;
