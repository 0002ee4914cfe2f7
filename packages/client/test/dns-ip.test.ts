import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { isIP } from 'node:net';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { addressScope, canonicalIp, ipFamily, ipLiteral } from '../src/dns/ip.js';

describe('ipFamily', () => {
  test('accepts well-formed literals', () => {
    for (const v4 of ['0.0.0.0', '1.2.3.4', '255.255.255.255', '10.0.0.1']) assert.equal(ipFamily(v4), 4, v4);
    for (const v6 of [
      '::',
      '::1',
      '2001:db8::1',
      'fe80::1:2',
      '1:2:3:4:5:6:7:8',
      '1::',
      '::ffff:1.2.3.4',
      '64:ff9b::8.8.8.8',
    ]) {
      assert.equal(ipFamily(v6), 6, v6);
    }
  });

  test('refuses names and malformed literals', () => {
    const bad = [
      '',
      'localhost',
      'example.com',
      '1.2.3',
      '1.2.3.4.5',
      '256.1.1.1',
      '01.2.3.4',
      '1.2.3.4 ',
      '1:2:3:4:5:6:7:8:9',
      '1::2::3',
      ':1',
      '1:',
      'fe80::1%eth0',
      '12345::',
      '::1.2.3',
      '1:2:3:4:5:6:7::8',
      'g::1',
      '[::1]',
    ];
    for (const text of bad) assert.equal(ipFamily(text), undefined, text);
  });

  test('agrees with node:net isIP on random input', () => {
    const v4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((b) => b.join('.'));
    const v6 = fc
      .array(fc.nat(0xffff), { minLength: 8, maxLength: 8 })
      .map((g) => canonicalIp(g.map((n) => n.toString(16)).join(':')));
    const junk = fc.stringMatching(/^[0-9a-f:.]{0,20}$/);
    fc.assert(
      fc.property(fc.oneof(v4, v6, junk), (text) => {
        // node accepts IPv4 with leading zeros in no case either; zone ids are not generated here.
        const expected = isIP(text);
        assert.equal(ipFamily(text) ?? 0, expected, text);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('canonicalIp', () => {
  test('writes IPv6 the RFC 5952 way', () => {
    const cases: [string, string][] = [
      ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
      ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
      ['0:0:0:0:0:0:0:0', '::'],
      ['0:0:0:0:0:0:0:1', '::1'],
      ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
      ['0:0:0:0:0:ffff:102:304', '::ffff:1.2.3.4'],
      ['1.2.3.4', '1.2.3.4'],
    ];
    for (const [input, expected] of cases) assert.equal(canonicalIp(input), expected, input);
  });

  test('ipLiteral strips brackets and canonicalises', () => {
    assert.deepEqual(ipLiteral('[2001:DB8::0:1]'), { address: '2001:db8::1', family: 6 });
    assert.deepEqual(ipLiteral('127.0.0.1'), { address: '127.0.0.1', family: 4 });
    assert.equal(ipLiteral('chat.example.com'), undefined);
  });
});

describe('addressScope', () => {
  test('classifies the ranges a hijacked answer points at', () => {
    const cases: [string, string][] = [
      ['8.8.8.8', 'public'],
      ['1.1.1.1', 'public'],
      ['127.0.0.1', 'loopback'],
      ['127.255.0.9', 'loopback'],
      ['10.1.2.3', 'private'],
      ['172.16.0.1', 'private'],
      ['172.31.255.255', 'private'],
      ['172.32.0.1', 'public'],
      ['192.168.1.1', 'private'],
      ['100.64.0.1', 'private'],
      ['169.254.1.1', 'private'],
      ['0.0.0.0', 'reserved'],
      ['0.1.2.3', 'reserved'],
      ['192.0.2.1', 'reserved'],
      ['198.51.100.1', 'reserved'],
      ['203.0.113.1', 'reserved'],
      ['198.18.0.1', 'reserved'],
      ['224.0.0.1', 'reserved'],
      ['255.255.255.255', 'reserved'],
      ['2606:4700::1111', 'public'],
      ['::1', 'loopback'],
      ['::', 'reserved'],
      ['fd00::1', 'private'],
      ['fe80::1', 'private'],
      ['ff02::1', 'reserved'],
      ['2001:db8::1', 'reserved'],
      ['::ffff:10.0.0.1', 'private'],
      ['::ffff:8.8.8.8', 'public'],
      ['64:ff9b::8.8.8.8', 'public'],
      ['64:ff9b::127.0.0.1', 'loopback'],
      ['3fff::1', 'public'],
      ['4000::1', 'reserved'],
    ];
    for (const [address, scope] of cases) assert.equal(addressScope(address), scope, address);
    assert.equal(addressScope('example.com'), undefined);
  });
});

test('the isomorphic DNS files import no Node built-ins', () => {
  const nodeOnly = new Set(['system-resolver.ts', 'node-tls.ts']);
  const dir = new URL('../src/dns/', import.meta.url);
  for (const file of readdirSync(dir)) {
    if (nodeOnly.has(file)) continue;
    const text = readFileSync(new URL(file, dir), 'utf8');
    assert.doesNotMatch(text, /from '(node:|fs|net|tls|dns|http|https|crypto|buffer)['/]/, file);
    assert.doesNotMatch(text, /\bBuffer\b|\bprocess\./, file);
  }
});
