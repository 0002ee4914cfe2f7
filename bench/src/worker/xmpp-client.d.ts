// The part of @xmpp/client (which ships no types) the ejabberd driver uses.
declare module '@xmpp/client' {
  import type { EventEmitter } from 'node:events';
  import type { Socket } from 'node:net';

  export interface Element {
    name: string;
    attrs: Record<string, string | undefined>;
    is(name: string, xmlns?: string): boolean;
    getChildText(name: string): string | null;
  }

  export interface XmppClient extends EventEmitter {
    status: string;
    socket: Socket | null;
    reconnect: { stop(): void };
    socketParameters(service: string): Record<string, unknown>;
    start(): Promise<unknown>;
    stop(): Promise<void>;
    send(element: Element): Promise<void>;
    write(text: string): Promise<void>;
  }

  export interface ClientOptions {
    service: string;
    domain: string;
    username: string;
    /** Chooses the SASL mechanism itself (the library refuses PLAIN without TLS otherwise). */
    credentials?: (
      authenticate: (credentials: { username: string; password: string }, mechanism: string) => Promise<void>,
      mechanisms: string[],
    ) => Promise<void>;
    resource?: string;
    /** Stream open and request timeout, ms (the library's default is 2 s). */
    timeout?: number;
  }

  export function client(options: ClientOptions): XmppClient;
  export function xml(name: string, attrs?: Record<string, string>, ...children: (Element | string)[]): Element;
}
