import type { Reader, Writer } from 'protobufjs/minimal.js';
import { pb } from './schema.js';

/**
 * Command numbers (u16). The high byte groups them by area. A frame's body type follows from
 * its command and its role: a request (client to server), its response (same command, the
 * RESPONSE flag, same seq) or a push (server to client, no RESPONSE flag).
 */
export const Command = {
  // Session
  LOGIN: 0x0001,
  LOGOUT: 0x0002,
  PING: 0x0003,
  SESSION_UPDATE: 0x0004,
  KICK: 0x0005,
  GOAWAY: 0x0006,
  PROBE: 0x0007,
  // Messages, receipts, typing
  SEND: 0x0101,
  MESSAGE: 0x0102,
  RECALL: 0x0103,
  CURSOR: 0x0104,
  TYPING: 0x0105,
  // Sync and history
  SYNC_CONVERSATIONS: 0x0201,
  SYNC_MESSAGES: 0x0202,
  HISTORY: 0x0203,
  SYNC_HINT: 0x0204,
  // Conversations and members
  CONV_CREATE: 0x0301,
  CONV_GET: 0x0302,
  CONV_LIST: 0x0303,
  CONV_UPDATE: 0x0304,
  MEMBERS_LIST: 0x0305,
  MEMBERS_ADD: 0x0306,
  MEMBERS_REMOVE: 0x0307,
  CONV_LEAVE: 0x0308,
  MEMBER_ROLE: 0x0309,
  MEMBER_SPEAK_MUTE: 0x030a,
  CONV_MUTE: 0x030b,
  CONVERSATION: 0x030c,
  // Chat rooms
  ROOM_JOIN: 0x0401,
  ROOM_LEAVE: 0x0402,
  ROOM_INFO: 0x0403,
  // Presence
  PRESENCE_QUERY: 0x0501,
  PRESENCE_SUBSCRIBE: 0x0502,
  PRESENCE: 0x0503,
  // Push notifications
  PUSH_REGISTER: 0x0601,
  PUSH_UNREGISTER: 0x0602,
  PUSH_SETTINGS: 0x0603,
} as const;

export type CommandName = keyof typeof Command;
export type Command = (typeof Command)[CommandName];

/** The role a frame plays, which with its command decides its body type. */
export type Role = 'request' | 'response' | 'push';

/** What the codec needs from a generated message type. */
export interface MessageType<T> {
  encode(message: T, writer?: Writer): Writer;
  decode(reader: Uint8Array | Reader, length?: number): T;
}

interface AnyMessageType {
  encode(message: never, writer?: Writer): Writer;
  decode(reader: Uint8Array | Reader, length?: number): unknown;
}

interface CommandSchema {
  request?: AnyMessageType;
  response?: AnyMessageType;
  push?: AnyMessageType;
}

/** Body types per command and role. A role a command lacks is refused as UNKNOWN_COMMAND. */
export const schema = {
  [Command.LOGIN]: { request: pb.LoginRequest, response: pb.LoginResponse },
  [Command.LOGOUT]: { request: pb.LogoutRequest, response: pb.EmptyResponse },
  [Command.PING]: { request: pb.Empty, response: pb.Empty },
  [Command.SESSION_UPDATE]: { request: pb.SessionUpdateRequest, response: pb.SessionUpdateResponse },
  [Command.KICK]: { push: pb.Kick },
  [Command.GOAWAY]: { push: pb.GoAway },
  [Command.PROBE]: { request: pb.ProbeRequest, response: pb.ProbeResponse },
  [Command.SEND]: { request: pb.SendMessageRequest, response: pb.SendMessageResponse },
  [Command.MESSAGE]: { push: pb.MessagePush },
  [Command.RECALL]: { request: pb.RecallMessageRequest, response: pb.RecallMessageResponse },
  [Command.CURSOR]: { request: pb.CursorUpdateRequest, response: pb.CursorUpdateResponse, push: pb.CursorPush },
  [Command.TYPING]: { request: pb.TypingRequest, response: pb.EmptyResponse, push: pb.TypingPush },
  [Command.SYNC_CONVERSATIONS]: { request: pb.SyncConversationsRequest, response: pb.SyncConversationsResponse },
  [Command.SYNC_MESSAGES]: { request: pb.SyncMessagesRequest, response: pb.SyncMessagesResponse },
  [Command.HISTORY]: { request: pb.HistoryRequest, response: pb.HistoryResponse },
  [Command.SYNC_HINT]: { push: pb.SyncHint },
  [Command.CONV_CREATE]: { request: pb.CreateConversationRequest, response: pb.ConversationResponse },
  [Command.CONV_GET]: { request: pb.GetConversationRequest, response: pb.ConversationResponse },
  [Command.CONV_LIST]: { request: pb.ListConversationsRequest, response: pb.ListConversationsResponse },
  [Command.CONV_UPDATE]: { request: pb.UpdateConversationRequest, response: pb.ConversationResponse },
  [Command.MEMBERS_LIST]: { request: pb.ListMembersRequest, response: pb.ListMembersResponse },
  [Command.MEMBERS_ADD]: { request: pb.MembersChangeRequest, response: pb.MembersChangeResponse },
  [Command.MEMBERS_REMOVE]: { request: pb.MembersChangeRequest, response: pb.MembersChangeResponse },
  [Command.CONV_LEAVE]: { request: pb.LeaveConversationRequest, response: pb.EmptyResponse },
  [Command.MEMBER_ROLE]: { request: pb.SetMemberRoleRequest, response: pb.EmptyResponse },
  [Command.MEMBER_SPEAK_MUTE]: { request: pb.SpeakMuteRequest, response: pb.EmptyResponse },
  [Command.CONV_MUTE]: { request: pb.MuteConversationRequest, response: pb.EmptyResponse },
  [Command.CONVERSATION]: { push: pb.ConversationPush },
  [Command.ROOM_JOIN]: { request: pb.JoinRoomRequest, response: pb.JoinRoomResponse },
  [Command.ROOM_LEAVE]: { request: pb.LeaveRoomRequest, response: pb.EmptyResponse },
  [Command.ROOM_INFO]: { push: pb.RoomInfoPush },
  [Command.PRESENCE_QUERY]: { request: pb.PresenceQueryRequest, response: pb.PresenceQueryResponse },
  [Command.PRESENCE_SUBSCRIBE]: { request: pb.PresenceSubscribeRequest, response: pb.PresenceSubscribeResponse },
  [Command.PRESENCE]: { push: pb.PresencePush },
  [Command.PUSH_REGISTER]: { request: pb.RegisterPushRequest, response: pb.EmptyResponse },
  [Command.PUSH_UNREGISTER]: { request: pb.UnregisterPushRequest, response: pb.EmptyResponse },
  [Command.PUSH_SETTINGS]: { request: pb.PushSettingsRequest, response: pb.EmptyResponse },
} as const satisfies Record<Command, CommandSchema>;

type Schema = typeof schema;
type Part<C extends Command, R extends Role> = Schema[C] extends Record<R, infer M> ? M : never;
type Encodable<M> = M extends { encode(message: infer P, writer?: Writer): Writer } ? P : never;
type Decoded<M> = M extends { decode(reader: Uint8Array | Reader, length?: number): infer T } ? T : never;

/** What may be passed to encode a request with command C (every field optional). */
export type RequestInput<C extends CommandWith<'request'>> = Encodable<Part<C, 'request'>>;
/** What may be passed to encode a response to command C (every field optional). */
export type ResponseInput<C extends CommandWith<'response'>> = Encodable<Part<C, 'response'>>;
/** What may be passed to encode a push with command C (every field optional). */
export type PushInput<C extends CommandWith<'push'>> = Encodable<Part<C, 'push'>>;
/** Decoded body of a request with command C (unset fields read as their defaults). */
export type RequestOf<C extends CommandWith<'request'>> = Decoded<Part<C, 'request'>>;
/** Decoded body of a response to command C. */
export type ResponseOf<C extends CommandWith<'response'>> = Decoded<Part<C, 'response'>>;
/** Decoded body of a push with command C. */
export type PushOf<C extends CommandWith<'push'>> = Decoded<Part<C, 'push'>>;

/** Commands that have a body type for the given role. */
export type CommandWith<R extends Role> = {
  [C in Command]: Schema[C] extends Record<R, unknown> ? C : never;
}[Command];

const names = new Map<number, CommandName>(
  Object.entries(Command).map(([name, value]) => [value, name as CommandName]),
);

/** The name of a command number, or undefined for a number this build does not know. */
export function commandName(command: number): CommandName | undefined {
  return names.get(command);
}

/** The message type for (command, role), or undefined when the pair does not exist. */
export function messageTypeFor(command: number, role: Role): MessageType<unknown> | undefined {
  const entry = (schema as Record<number, CommandSchema | undefined>)[command];
  return entry?.[role];
}
