import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ErrorCode, pb } from '@parley/protocol';
import { type Envelope, EnvelopeError, decodeEnvelope, encodeEnvelope } from '../src/bus/redis/envelope.js';
import { liveFields, parseDeviceField, deviceField, stamp } from '../src/bus/redis/keys.js';
import { backoff } from '../src/bus/redis/redis-link.js';
import { ConfigError, parseConfig } from '../src/index.js';

describe('bus envelope', () => {
  test('round-trips every kind, payload bytes untouched', () => {
    const payload = new Uint8Array([0, 1, 2, 255, 124]);
    const cases: Envelope[] = [
      { kind: 'users', from: 'n1', userIds: ['a', 'b|c', 'ü'], payload },
      { kind: 'room', from: 'n1', roomId: 'r', exceptSessionId: 's', payload },
      { kind: 'presence', from: 'n2', userId: 'u' },
      { kind: 'resync', from: 'n3' },
      {
        kind: 'kick',
        from: 'n3',
        userId: 'u',
        match: { platform: pb.Platform.IOS },
        before: 123,
        reason: ErrorCode.REPLACED_BY_PLATFORM,
        message: 'm',
      },
    ];
    for (const e of cases) {
      const back = decodeEnvelope(encodeEnvelope(e));
      assert.deepEqual(
        { ...back, ...('payload' in back ? { payload: [...back.payload] } : {}) },
        {
          ...e,
          ...('payload' in e ? { payload: [...e.payload] } : {}),
        },
      );
    }
  });

  test('malformed input is a typed error, never a crash', () => {
    const good = encodeEnvelope({ kind: 'presence', from: 'n', userId: 'u' });
    const bad: Buffer[] = [
      Buffer.alloc(0),
      Buffer.from([0, 0, 0]),
      Buffer.from([9, 0, 0, 0, 0]),
      Buffer.concat([Buffer.from([2, 0, 0, 0xff, 0xff]), Buffer.from('{}')]),
      Buffer.concat([Buffer.from([2, 0, 0, 0, 3]), Buffer.from('{x}')]),
      Buffer.concat([Buffer.from([2, 0, 0, 0, 4]), Buffer.from('null')]),
      Buffer.concat([Buffer.from([0, 0, 0, 0, 24]), Buffer.from('{"from":"n","userIds":1}')]),
      Buffer.concat([Buffer.from([3, 0, 0, 0, 30]), Buffer.from('{"from":"n","userId":"u","x":1}')]),
      good.subarray(0, good.length - 1),
    ];
    for (const bytes of bad) assert.throws(() => decodeEnvelope(bytes), EnvelopeError, bytes.toString('hex'));
  });
});

describe('cluster keys and link', () => {
  test('expiring fields: live ones kept, stale and unparsable ones pruned', () => {
    const { live, stale } = liveFields(
      { [deviceField('n1', 'd|1')]: stamp(3, 2_000), [deviceField('n2', 'd')]: stamp(3, 500), odd: 'x' },
      1_000,
    );
    assert.deepEqual(live, [{ field: 'n1|d|1', data: '3' }]);
    assert.deepEqual(stale.sort(), ['n2|d', 'odd']);
    assert.deepEqual(parseDeviceField('n1|d|1'), { nodeId: 'n1', deviceId: 'd|1' });
  });

  test('reconnect backoff grows to a cap, with jitter', () => {
    assert.ok(backoff(1) >= 80 && backoff(1) <= 120);
    for (let i = 1; i < 40; i++) assert.ok(backoff(i) <= 2_400);
    assert.ok(backoff(30) >= 1_600);
  });

  test('config: bus URL and node id are checked', () => {
    assert.throws(() => parseConfig({ bus: 'nats://x' }), ConfigError);
    assert.throws(() => parseConfig({ nodeId: 'a|b' }), ConfigError);
    const a = parseConfig({});
    const b = parseConfig({});
    assert.notEqual(a.nodeId, b.nodeId, 'a random node id per start');
    assert.equal(parseConfig({ bus: 'redis://127.0.0.1:1', nodeId: 'n-1' }).nodeId, 'n-1');
  });
});
