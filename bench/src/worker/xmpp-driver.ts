// XMPP on the harness's own ejabberd node, driven with @xmpp/client: SASL PLAIN, a bound
// resource, initial presence (which makes ejabberd hand over stored offline messages), chat
// messages to user@domain, groupchat in a MUC room for the room scenarios. XMPP has no
// message ack without stream management; a send counts as acknowledged once written.
import { client as xmppClient, xml } from '@xmpp/client';
import { MUC_DOMAIN, XMPP_DOMAIN, XMPP_PASSWORD } from '../anchors/ejabberd.js';
import type { BenchClient, ClientEvents, Connect, ConnectOptions, Endpoint } from './driver.js';

const CONNECT_TIMEOUT_MS = 120_000;

export const connectXmpp: Connect = async (endpoint: Endpoint, options: ConnectOptions, events: ClientEvents) => {
  const port = endpoint.ports[options.server % endpoint.ports.length]!;
  const xmpp = xmppClient({
    service: `xmpp://${endpoint.host}:${String(port)}`,
    domain: XMPP_DOMAIN,
    username: options.user,
    // PLAIN over the loopback without TLS: the library would pick SCRAM, whose key derivation
    // makes the load generator the bottleneck (and the node offers PLAIN only).
    credentials: (authenticate) => authenticate({ username: options.user, password: XMPP_PASSWORD }, 'PLAIN'),
    resource: 'bench',
    // Thousands of logins at once on a loaded machine take longer than the default 2 s.
    timeout: CONNECT_TIMEOUT_MS,
  });
  xmpp.reconnect.stop();
  const base = xmpp.socketParameters.bind(xmpp);
  xmpp.socketParameters = (service: string) => ({ ...base(service), localAddress: options.localAddress });
  let destroyed = false;
  let online = false;
  xmpp.on('error', () => undefined);
  /** Room joins waiting for the room to echo our own presence (XEP-0045: the join is complete). */
  const joining = new Map<string, () => void>();
  xmpp.on('stanza', (stanza) => {
    const s = stanza as {
      is(name: string): boolean;
      getChildText(name: string): string | null;
      attrs: Record<string, string | undefined>;
    };
    if (s.is('presence')) {
      joining.get(s.attrs.from ?? '')?.();
      return;
    }
    if (!s.is('message')) return;
    const body = s.getChildText('body');
    if (body !== null) events.onMessage({ text: body });
  });
  xmpp.on('offline', () => {
    if (online && !destroyed) events.onDrop();
  });
  const started = xmpp.start();
  const timeout = new Promise<never>((_, reject) =>
    setTimeout(() => {
      reject(new Error('xmpp login timed out'));
    }, CONNECT_TIMEOUT_MS).unref(),
  );
  try {
    await Promise.race([started, timeout]);
  } catch (err) {
    destroyed = true;
    xmpp.socket?.destroy();
    throw err;
  }
  online = true;
  // Initial presence: the server now counts us available and delivers offline storage.
  await xmpp.send(xml('presence'));
  const client: BenchClient = {
    direct: (peer) => Promise.resolve(`${peer}@${XMPP_DOMAIN}`),
    expectFrom: () => undefined,
    joinRoom: async (room) => {
      const jid = `${room}@${MUC_DOMAIN}`;
      const self = `${jid}/${options.user}`;
      const joined = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          joining.delete(self);
          reject(new Error(`no answer to joining ${jid}`));
        }, CONNECT_TIMEOUT_MS);
        joining.set(self, () => {
          clearTimeout(timer);
          joining.delete(self);
          resolve();
        });
      });
      await xmpp.send(xml('presence', { to: self }, xml('x', { xmlns: 'http://jabber.org/protocol/muc' })));
      await joined;
      return jid;
    },
    send: (target, text, onAck) => {
      const type = target.endsWith(`@${MUC_DOMAIN}`) ? 'groupchat' : 'chat';
      xmpp.send(xml('message', { to: target, type }, xml('body', {}, text))).then(
        () => {
          onAck(true);
        },
        () => {
          onAck(false);
        },
      );
    },
    ping: () => {
      // Whitespace keepalive, the usual XMPP heartbeat.
      void xmpp.write(' ').catch(() => undefined);
    },
    catchUp: () => Promise.resolve(),
    destroy: () => {
      destroyed = true;
      xmpp.socket?.destroy();
    },
  };
  return client;
};
