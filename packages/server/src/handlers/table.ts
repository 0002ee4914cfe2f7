import { Command } from '@parley/protocol';
import * as conv from './conversations.js';
import type { AnyHandler } from './dispatch.js';
import * as msg from './messages.js';
import * as push from './push.js';
import * as rp from './rooms-presence.js';
import * as sess from './session.js';
import * as sync from './sync.js';

/** Every request command and its handler. PING is answered in the session without decoding. */
export const handlers = new Map<number, AnyHandler>([
  [Command.LOGIN, sess.login],
  [Command.LOGOUT, sess.logout],
  [Command.PING, () => ({})],
  [Command.SESSION_UPDATE, sess.sessionUpdate],
  [Command.PROBE, sess.probe],
  [Command.SEND, msg.send],
  [Command.RECALL, msg.recall],
  [Command.CURSOR, msg.cursor],
  [Command.TYPING, msg.typing],
  [Command.SYNC_CONVERSATIONS, sync.syncConversations],
  [Command.SYNC_MESSAGES, sync.syncMessages],
  [Command.HISTORY, sync.history],
  [Command.CONV_CREATE, conv.create],
  [Command.CONV_GET, conv.get],
  [Command.CONV_LIST, conv.list],
  [Command.CONV_UPDATE, conv.update],
  [Command.MEMBERS_LIST, conv.membersList],
  [Command.MEMBERS_ADD, conv.membersAdd],
  [Command.MEMBERS_REMOVE, conv.membersRemove],
  [Command.CONV_LEAVE, conv.leave],
  [Command.MEMBER_ROLE, conv.role],
  [Command.MEMBER_SPEAK_MUTE, conv.speakMute],
  [Command.CONV_MUTE, conv.mute],
  [Command.ROOM_JOIN, rp.roomJoin],
  [Command.ROOM_LEAVE, rp.roomLeave],
  [Command.PRESENCE_QUERY, rp.presenceQuery],
  [Command.PRESENCE_SUBSCRIBE, rp.presenceSubscribe],
  [Command.PUSH_REGISTER, push.pushRegister],
  [Command.PUSH_UNREGISTER, push.pushUnregister],
  [Command.PUSH_SETTINGS, push.pushSettings],
]);
