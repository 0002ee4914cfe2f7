import { Command, type ConversationView, pb } from '@parley/client';
import { useState } from 'preact/hooks';
import { roleName } from '../format.js';
import { navigate } from '../router.js';
import type { ChatStore } from '../state/chat-store.js';
import { Avatar } from './avatar.js';
import { Dialog } from './dialog.js';

/** A group's members by role; owners and admins add and remove, the owner appoints admins. */
export function MembersPanel({
  store,
  view,
  onClose,
}: {
  store: ChatStore;
  view: ConversationView;
  onClose: () => void;
}) {
  const members = store.members(view.id) ?? [];
  const [adding, setAdding] = useState('');
  const [error, setError] = useState('');
  const myRole = view.role;
  const admin = myRole >= pb.MemberRole.ADMIN;

  async function act(run: () => Promise<unknown>): Promise<void> {
    setError('');
    try {
      await run();
      store.loadMembers(view.id, true);
      // The notice of a change is pushed to the other sessions, not the one that made it: sync pulls it.
      void store.client.sync.run();
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    }
  }
  const conn = store.client.connection;
  const conversationId = view.id;

  return (
    <Dialog title={`${view.name || 'Group'}: members`} onClose={onClose}>
      <ul class="member-list">
        {members.map((m) => {
          const canRemove =
            m.userId !== store.me && (myRole === pb.MemberRole.OWNER || (admin && m.role === pb.MemberRole.MEMBER));
          return (
            <li key={m.userId}>
              <Avatar name={m.userId} size={32} />
              <span class="member-name">
                {m.userId}
                {m.userId === store.me ? ' (you)' : ''}
              </span>
              <span class={`role role-${roleName(m.role).toLowerCase()}`}>{roleName(m.role)}</span>
              {myRole === pb.MemberRole.OWNER && m.userId !== store.me && (
                <button
                  type="button"
                  onClick={() =>
                    void act(() =>
                      conn.request(Command.MEMBER_ROLE, {
                        conversationId,
                        userId: m.userId,
                        role: m.role === pb.MemberRole.ADMIN ? pb.MemberRole.MEMBER : pb.MemberRole.ADMIN,
                      }),
                    )
                  }
                >
                  {m.role === pb.MemberRole.ADMIN ? 'Remove admin' : 'Make admin'}
                </button>
              )}
              {canRemove && (
                <button
                  type="button"
                  onClick={() =>
                    void act(() => conn.request(Command.MEMBERS_REMOVE, { conversationId, userIds: [m.userId] }))
                  }
                >
                  Remove
                </button>
              )}
            </li>
          );
        })}
      </ul>
      {admin && (
        <form
          class="inline-form"
          onSubmit={(e) => {
            e.preventDefault();
            const userIds = adding.split(/[\s,]+/).filter(Boolean);
            if (userIds.length === 0) return;
            void act(() => conn.request(Command.MEMBERS_ADD, { conversationId, userIds })).then(() => {
              setAdding('');
            });
          }}
        >
          <label for="add-members">Add people</label>
          <input
            id="add-members"
            value={adding}
            onInput={(e) => {
              setAdding(e.currentTarget.value);
            }}
            placeholder="dave, erin"
          />
          <button type="submit">Add</button>
        </form>
      )}
      <p class="error" role="alert">
        {error}
      </p>
      <div class="form-actions">
        <button
          type="button"
          class="danger"
          onClick={() =>
            void act(async () => {
              await conn.request(Command.CONV_LEAVE, { conversationId });
              onClose();
              navigate('/');
            })
          }
        >
          Leave group
        </button>
      </div>
    </Dialog>
  );
}
