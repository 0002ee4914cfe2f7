import type { pb } from '@parley/protocol';

/** What the app's before-send hook decides about a message. */
export type BeforeSendDecision =
  { action: 'accept'; content?: pb.MessageContent.$Properties } | { action: 'reject'; reason: string };

export interface OutgoingMessage {
  conversationId: string;
  conversationType: pb.ConversationType;
  senderId: string;
  senderDeviceId: string;
  clientMessageId: string;
  content: pb.MessageContent.$Properties;
}

/** The app's webhooks. With none configured, every call is a cheap no-op. */
export interface Webhooks {
  /** Asks the app whether to deliver (and possibly rewrite) a message. Applies the fail-open/closed policy itself. */
  beforeSend(message: OutgoingMessage): Promise<BeforeSendDecision>;
  /** Tells the app a message was stored; retried in the background, never blocks delivery. */
  afterSend(message: pb.Message.$Properties): void;
  readonly beforeSendEnabled: boolean;
  close(): Promise<void>;
}

/** Webhooks when none are configured. */
export const noWebhooks: Webhooks = {
  beforeSendEnabled: false,
  beforeSend: () => Promise.resolve({ action: 'accept' }),
  afterSend: () => undefined,
  close: () => Promise.resolve(),
};
