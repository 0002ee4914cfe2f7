import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pb } from '@parley/client';
import { guessMime, initials, isImage, mentionsIn, preview, safeUrl, systemText, textParts } from '../src/format.js';

describe('display helpers', () => {
  test('links: only http(s), trailing punctuation left out', () => {
    assert.deepEqual(textParts('see https://example.com/a?b=1. ok'), [
      { kind: 'text', text: 'see ' },
      { kind: 'link', href: 'https://example.com/a?b=1', text: 'https://example.com/a?b=1' },
      { kind: 'text', text: '. ok' },
    ]);
    assert.equal(safeUrl('javascript:alert(1)'), undefined);
    assert.equal(safeUrl('data:text/html,<script>'), undefined);
    assert.equal(safeUrl('not a url'), undefined);
    assert.equal(safeUrl('https://example.com'), 'https://example.com/');
    assert.ok(textParts('javascript:alert(1)').every((p) => p.kind === 'text'));
  });

  test('mentions of members (and @all) only', () => {
    const members = new Set(['alice', 'bob']);
    assert.deepEqual(mentionsIn('@alice and @mallory, @all: hi @bob', members), ['alice', '@all', 'bob']);
    const parts = textParts('hi @carol @bob', members);
    assert.deepEqual(
      parts.filter((p) => p.kind === 'mention').map((p) => p.text),
      ['@bob'],
    );
  });

  test('initials, images, previews, system notices', () => {
    assert.equal(initials('alice'), 'A');
    assert.equal(initials('bob-smith'), 'BS');
    assert.equal(initials('Ada Lovelace King'), 'AL');
    assert.equal(initials('  '), '?');
    assert.equal(guessMime('https://x.test/p.JPG?size=2'), 'image/jpeg');
    assert.ok(isImage({ url: 'https://x.test/a.webp' }));
    assert.ok(!isImage({ url: 'https://x.test/a.pdf', mimeType: 'application/pdf' }));
    const base = {
      conversationId: 'c',
      seq: 3,
      messageId: 'm',
      senderId: 'bob',
      senderDeviceId: 'd',
      clientMessageId: 'x',
      serverTime: 1,
      recalled: false,
      conversationType: pb.ConversationType.GROUP,
    };
    assert.equal(preview({ ...base, content: { type: pb.MessageType.TEXT, text: 'hey' } }, 'alice'), 'hey');
    assert.equal(preview({ ...base, recalled: true, content: {} }, 'alice'), 'bob recalled a message');
    assert.equal(
      preview(
        { ...base, content: { type: pb.MessageType.ATTACHMENT, attachments: [{ url: 'https://x.test/p.png' }] } },
        'bob',
      ),
      'Photo: https://x.test/p.png',
    );
    assert.equal(preview(undefined, 'alice'), 'No messages yet');
    assert.equal(
      systemText({ type: pb.SystemEventType.MEMBERS_ADDED, actor: 'alice', users: ['bob', 'carol', 'dave'] }, 'carol'),
      'alice added bob, you and dave',
    );
    assert.equal(
      systemText(
        { type: pb.SystemEventType.ROLE_CHANGED, actor: 'alice', users: ['bob'], role: pb.MemberRole.ADMIN },
        'alice',
      ),
      'You made bob admin',
    );
  });
});
