// MQTT 3.1.1 with QoS 1 on the machine's Mosquitto, driven with mqtt.js. A user subscribes to
// its own topic (u/USER); 1:1 messages are published there, room messages to r/ROOM. A
// persistent session (clean: false) keeps QoS 1 messages for a client while it is away.
import { connect as netConnect } from 'node:net';
import { MqttClient } from 'mqtt';
import type { BenchClient, ClientEvents, Connect, ConnectOptions, Endpoint } from './driver.js';

const userTopic = (user: string) => `parley-bench/u/${user}`;
const roomTopic = (room: string) => `parley-bench/r/${room}`;

export const connectMqtt: Connect = (endpoint: Endpoint, options: ConnectOptions, events: ClientEvents) => {
  const port = endpoint.ports[options.server % endpoint.ports.length]!;
  const mqtt = new MqttClient(
    () => netConnect({ host: endpoint.host, port, localAddress: options.localAddress, noDelay: true }),
    {
      clientId: `pb-${options.user}`,
      clean: !options.persistent,
      keepalive: Math.max(1, Math.round(options.heartbeatMs / 1000)),
      reconnectPeriod: 0,
      connectTimeout: 120_000,
      protocolVersion: 4,
    },
  );
  let destroyed = false;
  const client: BenchClient = {
    direct: (peer) => Promise.resolve(userTopic(peer)),
    expectFrom: () => undefined,
    joinRoom: async (room) => {
      await mqtt.subscribeAsync(roomTopic(room), { qos: 1 });
      return roomTopic(room);
    },
    send: (target, text, onAck) => {
      mqtt.publish(target, text, { qos: 1 }, (err) => {
        onAck(!err);
      });
    },
    // mqtt.js sends PINGREQ on its own every keepalive seconds.
    ping: () => undefined,
    // The broker resends a persistent session's queued messages right after CONNACK.
    catchUp: () => Promise.resolve(),
    destroy: () => {
      destroyed = true;
      mqtt.end(true);
    },
  };
  mqtt.on('message', (_topic, payload) => {
    events.onMessage({ text: payload.toString() });
  });
  return new Promise((resolve, reject) => {
    mqtt.once('connect', (connack) => {
      mqtt.on('close', () => {
        if (!destroyed) events.onDrop();
      });
      // A resumed persistent session keeps its subscription.
      if (connack.sessionPresent) {
        resolve(client);
        return;
      }
      mqtt.subscribe(userTopic(options.user), { qos: 1 }, (err) => {
        if (err) reject(err);
        else resolve(client);
      });
    });
    mqtt.once('error', (err) => {
      mqtt.end(true);
      reject(err);
    });
  });
};
