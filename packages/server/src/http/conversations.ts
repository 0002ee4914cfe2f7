import { ErrorCode, ParleyError, pb } from '@parley/protocol';
import { z } from 'zod';
import type { ServerContext } from '../context.js';
import { messageToPb } from '../services/mapping.js';
import type { ConversationRecord } from '../store/types.js';
import type { HttpApiParts } from './api.js';
import { invalidArgument } from './errors.js';
import { ConversationJson, MemberJson, MessageJson, conversationToJson, memberToJson, messageToJson } from './json.js';
import { type AnyRoute, requestSchema, responseSchema, route } from './route.js';
import { Id, userParam } from './users.js';

/** The device id recorded for conversations the admin API creates on a user's behalf. */
export const ADMIN_DEVICE = 'admin-api';

const MAX_MEMBERS_PER_CALL = 10_000;
const MAX_PAGE = 1000;

const CreateConversationRequest = requestSchema(
  'CreateConversationRequest',
  z.object({
    type: z.enum(['direct', 'group']),
    owner: Id.describe('The user creating it: the owner of a group, one of the two users of a direct conversation'),
    members: z.array(Id).max(MAX_MEMBERS_PER_CALL).describe('The other members: exactly one for a direct conversation'),
    name: z.string().max(200).optional().describe('Group name'),
    attributes: z.record(z.string(), z.unknown()).optional().describe("The app's JSON object for the group"),
  }),
);
const CreateConversationResponse = responseSchema(
  'CreateConversationResponse',
  z.object({
    created: z.boolean().describe('False when the direct conversation of the two users already existed'),
    conversation: ConversationJson,
  }),
);
responseSchema('Conversation', ConversationJson);
responseSchema('Member', MemberJson);
responseSchema('Message', MessageJson);
const ConversationResponse = responseSchema('ConversationResponse', z.object({ conversation: ConversationJson }));
const MembersPage = responseSchema(
  'MembersPage',
  z.object({
    members: z.array(MemberJson),
    nextCursor: z.string().describe('Pass as `cursor` for the next page; empty at the end'),
  }),
);
const AddMembersRequest = requestSchema(
  'AddMembersRequest',
  z.object({ userIds: z.array(Id).min(1).max(MAX_MEMBERS_PER_CALL) }),
);
const AddMembersResponse = responseSchema(
  'AddMembersResponse',
  z.object({
    added: z.array(z.string()).describe('Users actually added (those already members are left out)'),
    seq: z.number().int().describe('Seq of the SYSTEM message recording it; 0 when nothing changed'),
  }),
);
const RemoveMemberResponse = responseSchema(
  'RemoveMemberResponse',
  z.object({
    removed: z.boolean().describe('False when the user was not a member'),
    seq: z.number().int().describe('Seq of the SYSTEM message recording it; 0 when nothing changed'),
  }),
);
const SystemMessageRequest = requestSchema('SystemMessageRequest', z.object({ text: z.string().min(1).max(4000) }));
const SystemMessageResponse = responseSchema(
  'SystemMessageResponse',
  z.object({ seq: z.number().int(), messageId: z.string() }),
);
const MessagesPage = responseSchema(
  'MessagesPage',
  z.object({
    messages: z.array(MessageJson),
    nextBefore: z.number().int().optional().describe('History: pass as `before` for older messages; 0 at the start'),
    nextFrom: z.number().int().optional().describe('Range: pass as `from` for the next page; 0 at the end'),
  }),
);

const count = (max: number, fallback: number, description: string) =>
  z.coerce.number().int().min(1).max(max).default(fallback).describe(description);
const seqParam = (description: string) => z.coerce.number().int().min(0).optional().describe(description);

const MembersQuery = z.object({
  cursor: z.string().max(256).default('').describe('From `nextCursor` of the previous page'),
  limit: count(MAX_PAGE, 100, 'Page size, 1 to 1000 (default 100)'),
});
const MessagesQuery = z.object({
  before: seqParam('History, newest first: messages with seq below this (default: from the latest)'),
  from: seqParam('Range, ascending: messages with seq from this'),
  to: seqParam('Range: up to this seq (default: the latest)'),
  limit: count(MAX_PAGE, 50, 'Page size, 1 to 1000 (default 50)'),
});

const ID_PARAM = { id: 'Conversation id' };

/** Conversations, members, system messages and history, as the app's server. */
export function conversationRoutes(parts: HttpApiParts): AnyRoute[] {
  const { ctx } = parts;
  return [
    route({
      method: 'post',
      path: '/v1/conversations',
      operationId: 'createConversation',
      tag: 'conversations',
      summary: 'Create a direct conversation or a group',
      description:
        'A direct conversation of two users has a fixed id: creating it again returns it with `created: false` ' +
        '(status 200 instead of 201).',
      admin: true,
      body: CreateConversationRequest,
      ok: {
        status: 201,
        description: 'Created (200: the direct conversation existed)',
        schema: CreateConversationResponse,
      },
      errors: { 409: 'More members than the member cap (MEMBER_LIMIT)' },
      handle: async ({ body }) => {
        const type = body.type === 'direct' ? pb.ConversationType.DIRECT : pb.ConversationType.GROUP;
        const { state, created } = await ctx.conversations.create(
          { userId: body.owner, deviceId: ADMIN_DEVICE },
          type,
          body.members,
          body.name ?? '',
          body.attributes ? JSON.stringify(body.attributes) : '',
        );
        return { status: created ? 201 : 200, json: { created, conversation: conversationToJson(state.conversation) } };
      },
    }),
    route({
      method: 'get',
      path: '/v1/conversations/{id}',
      operationId: 'getConversation',
      tag: 'conversations',
      summary: 'A conversation',
      admin: true,
      params: ID_PARAM,
      ok: { description: 'The conversation', schema: ConversationResponse },
      errors: { 404: 'No such conversation (NOT_FOUND)' },
      handle: async ({ params }) => ({ json: { conversation: conversationToJson(await find(ctx, params)) } }),
    }),
    route({
      method: 'get',
      path: '/v1/conversations/{id}/members',
      operationId: 'listMembers',
      tag: 'conversations',
      summary: 'Active members, by user id, a page at a time',
      admin: true,
      params: ID_PARAM,
      query: MembersQuery,
      ok: { description: 'A page of members', schema: MembersPage },
      errors: { 404: 'No such conversation (NOT_FOUND)' },
      handle: async ({ params, query }) => {
        const conversation = await find(ctx, params);
        const page = await ctx.store.listMembers(conversation.id, query.cursor, query.limit);
        const last = page.at(-1);
        return {
          json: {
            members: page.map(memberToJson),
            nextCursor: page.length === query.limit && last ? last.userId : '',
          },
        };
      },
    }),
    route({
      method: 'post',
      path: '/v1/conversations/{id}/members',
      operationId: 'addMembers',
      tag: 'conversations',
      summary: 'Add members to a group',
      description: 'Recorded as a SYSTEM message (members_added, actor empty: the app server) every member receives.',
      admin: true,
      params: ID_PARAM,
      body: AddMembersRequest,
      ok: { description: 'Who was added', schema: AddMembersResponse },
      errors: {
        404: 'No such conversation (NOT_FOUND)',
        409: 'The group would exceed the member cap (MEMBER_LIMIT)',
      },
      handle: async ({ params, body }) => {
        const { changed, seq } = await ctx.conversations.addMembersAsServer(conversationParam(params), body.userIds);
        return { json: { added: changed, seq } };
      },
    }),
    route({
      method: 'delete',
      path: '/v1/conversations/{id}/members/{userId}',
      operationId: 'removeMember',
      tag: 'conversations',
      summary: 'Remove a member from a group',
      description:
        'Recorded as a SYSTEM message (members_removed). Removing the owner passes ownership to the ' +
        'longest-standing admin, else member.',
      admin: true,
      params: { ...ID_PARAM, userId: 'The member to remove' },
      ok: { description: 'Whether the user was removed', schema: RemoveMemberResponse },
      errors: { 404: 'No such conversation (NOT_FOUND)' },
      handle: async ({ params }) => {
        const { changed, seq } = await ctx.conversations.removeMembersAsServer(conversationParam(params), [
          userParam(params),
        ]);
        return { json: { removed: changed.length > 0, seq } };
      },
    }),
    route({
      method: 'post',
      path: '/v1/conversations/{id}/system-messages',
      operationId: 'sendSystemMessage',
      tag: 'conversations',
      summary: 'Post a notice from the app server',
      description: 'Stored and delivered as a SYSTEM message (system.type notice) with the given text.',
      admin: true,
      params: ID_PARAM,
      body: SystemMessageRequest,
      ok: { description: 'The stored message', schema: SystemMessageResponse },
      errors: { 404: 'No such conversation (NOT_FOUND)' },
      handle: async ({ params, body }) => ({
        json: await ctx.conversations.notice(conversationParam(params), body.text),
      }),
    }),
    route({
      method: 'get',
      path: '/v1/conversations/{id}/messages',
      operationId: 'listMessages',
      tag: 'conversations',
      summary: 'Stored messages: history (newest first) or a seq range (ascending)',
      description:
        'Without `from`: history, newest first, below `before` (default: from the latest). With `from`: ' +
        'messages from `from` up to `to` (default: the latest), ascending. `before` and `from` exclude each other.',
      admin: true,
      params: ID_PARAM,
      query: MessagesQuery,
      ok: { description: 'A page of messages', schema: MessagesPage },
      errors: { 404: 'No such conversation (NOT_FOUND)' },
      handle: async ({ params, query }) => {
        const conversation = await find(ctx, params);
        const toJson = (m: Parameters<typeof messageToPb>[0]) => messageToJson(messageToPb(m, conversation.type));
        if (query.from !== undefined) {
          if (query.before !== undefined) throw invalidArgument('give either `before` (history) or `from` (range)');
          const page = await ctx.store.getMessages(conversation.id, query.from, query.to ?? 0, query.limit);
          const last = page.at(-1);
          return {
            json: {
              messages: page.map(toJson),
              nextFrom: page.length === query.limit && last ? last.seq + 1 : 0,
            },
          };
        }
        if (query.to !== undefined) throw invalidArgument('`to` needs `from`');
        const page = await ctx.store.getHistory(conversation.id, query.before ?? 0, query.limit);
        const oldest = page.at(-1);
        return {
          json: {
            messages: page.map(toJson),
            nextBefore: page.length === query.limit && oldest && oldest.seq > 1 ? oldest.seq : 0,
          },
        };
      },
    }),
  ];
}

function conversationParam(params: Record<string, string>): string {
  const id = params.id ?? '';
  if (id.length === 0 || id.length > 128) throw invalidArgument('conversation id must be 1 to 128 characters');
  return id;
}

async function find(ctx: ServerContext, params: Record<string, string>): Promise<ConversationRecord> {
  const conversation = await ctx.store.getConversation(conversationParam(params));
  if (!conversation) throw new ParleyError(ErrorCode.NOT_FOUND, 'no such conversation');
  return conversation;
}
