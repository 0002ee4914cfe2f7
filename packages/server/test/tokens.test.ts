import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ErrorCode, ParleyError } from '@parley/protocol';
import { SignJWT, exportSPKI, generateKeyPair } from 'jose';
import { TokenVerifier, issueToken } from '../src/index.js';

const secret = 'an-app-secret-of-some-length-123';
const code = (c: ErrorCode) => (e: unknown) => e instanceof ParleyError && e.code === c;

describe('user tokens', () => {
  test('HS256 tokens from issueToken verify; claims come through', async () => {
    const v = new TokenVerifier({ secret });
    const id = await v.verify(await issueToken({ secret, userId: 'alice', deviceId: 'phone' }));
    assert.equal(id.userId, 'alice');
    assert.equal(id.deviceId, 'phone');
    assert.ok(id.expiresAt > Date.now());
  });

  test('expired, wrongly signed, malformed and claim-less tokens are refused with typed codes', async () => {
    const v = new TokenVerifier({ secret });
    await assert.rejects(
      v.verify(await issueToken({ secret, userId: 'a', ttlSeconds: -1 })),
      code(ErrorCode.TOKEN_EXPIRED),
    );
    await assert.rejects(
      v.verify(await issueToken({ secret: 'another-secret-entirely-000000', userId: 'a' })),
      code(ErrorCode.TOKEN_INVALID),
    );
    await assert.rejects(v.verify('not.a.jwt'), code(ErrorCode.TOKEN_INVALID));
    await assert.rejects(v.verify(''), code(ErrorCode.TOKEN_INVALID));
    const noExp = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('a')
      .sign(new TextEncoder().encode(secret));
    await assert.rejects(v.verify(noExp), code(ErrorCode.TOKEN_INVALID));
    const badSub = await issueToken({ secret, userId: 'a' }).then(() =>
      new SignJWT({})
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject('x'.repeat(200))
        .setExpirationTime('1h')
        .sign(new TextEncoder().encode(secret)),
    );
    await assert.rejects(v.verify(badSub), code(ErrorCode.TOKEN_INVALID));
  });

  test('issuer and audience are enforced when configured', async () => {
    const v = new TokenVerifier({ secret, issuer: 'my-app', audience: 'parley' });
    await assert.rejects(v.verify(await issueToken({ secret, userId: 'a' })), code(ErrorCode.TOKEN_INVALID));
    const ok = await v.verify(await issueToken({ secret, userId: 'a', issuer: 'my-app', audience: 'parley' }));
    assert.equal(ok.userId, 'a');
  });

  test('ES256 tokens verify with the configured public key, and only then', async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    const es = await new SignJWT({ dev: 'd1' })
      .setProtectedHeader({ alg: 'ES256' })
      .setSubject('bob')
      .setExpirationTime('10m')
      .sign(privateKey);
    const withKey = new TokenVerifier({ secret, publicKeyPem: await exportSPKI(publicKey) });
    const id = await withKey.verify(es);
    assert.equal(id.userId, 'bob');
    assert.equal(id.deviceId, 'd1');
    // HS256 still works beside it.
    assert.equal((await withKey.verify(await issueToken({ secret, userId: 'c' }))).userId, 'c');
    // Without a public key an ES256 token is refused.
    await assert.rejects(new TokenVerifier({ secret }).verify(es), code(ErrorCode.TOKEN_INVALID));
    // A token signed by another key is refused.
    const other = await generateKeyPair('ES256');
    const forged = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256' })
      .setSubject('bob')
      .setExpirationTime('10m')
      .sign(other.privateKey);
    await assert.rejects(withKey.verify(forged), code(ErrorCode.TOKEN_INVALID));
  });

  test('room join tokens must name the room and the user', async () => {
    const v = new TokenVerifier({ secret });
    const t = await issueToken({ secret, userId: 'a', room: 'r1' });
    await v.verifyRoomToken(t, 'a', 'r1');
    await assert.rejects(v.verifyRoomToken(t, 'a', 'r2'), code(ErrorCode.PERMISSION_DENIED));
    await assert.rejects(v.verifyRoomToken(t, 'b', 'r1'), code(ErrorCode.PERMISSION_DENIED));
  });
});
