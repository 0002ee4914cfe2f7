import { useState } from 'preact/hooks';
import type { ChatStore } from '../state/chat-store.js';
import { Dialog } from './dialog.js';

/** Starts a 1:1 chat or creates a group (name, members). Calls onClose with the new id. */
export function NewConversation({ store, onClose }: { store: ChatStore; onClose: (id?: string) => void }) {
  const [type, setType] = useState<'direct' | 'group'>('direct');
  const [members, setMembers] = useState('');
  const [name, setName] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);

  async function submit(): Promise<void> {
    const ids = [...new Set(members.split(/[\s,]+/).filter((m) => m && m !== store.me))];
    if (ids.length === 0) {
      setError('Add at least one other person.');
      return;
    }
    if (type === 'direct' && ids.length > 1) {
      setError('A direct chat has exactly one other person.');
      return;
    }
    if (type === 'group' && !name.trim()) {
      setError('Give the group a name.');
      return;
    }
    setBusy(true);
    setError('');
    try {
      const view = await store.client.createConversation({
        type,
        members: ids,
        ...(type === 'group' ? { name: name.trim() } : {}),
      });
      onClose(view.id);
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
      setBusy(false);
    }
  }

  return (
    <Dialog
      title="New chat"
      onClose={() => {
        onClose();
      }}
    >
      <form
        class="form"
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <fieldset class="segmented">
          <legend class="sr-only">Kind of chat</legend>
          <label>
            <input
              type="radio"
              name="type"
              value="direct"
              checked={type === 'direct'}
              onChange={() => {
                setType('direct');
              }}
            />
            <span>Direct</span>
          </label>
          <label>
            <input
              type="radio"
              name="type"
              value="group"
              checked={type === 'group'}
              onChange={() => {
                setType('group');
              }}
            />
            <span>Group</span>
          </label>
        </fieldset>
        {type === 'group' && (
          <>
            <label for="group-name">Group name</label>
            <input
              id="group-name"
              value={name}
              maxLength={100}
              onInput={(e) => {
                setName(e.currentTarget.value);
              }}
            />
          </>
        )}
        <label for="members">{type === 'direct' ? 'User name' : 'Members (separated by spaces or commas)'}</label>
        <input
          id="members"
          value={members}
          autoFocus
          autoComplete="off"
          onInput={(e) => {
            setMembers(e.currentTarget.value);
          }}
          placeholder={type === 'direct' ? 'bob' : 'bob, carol'}
        />
        <p class="error" role="alert">
          {error}
        </p>
        <div class="form-actions">
          <button
            type="button"
            onClick={() => {
              onClose();
            }}
          >
            Cancel
          </button>
          <button type="submit" class="primary" disabled={busy}>
            {type === 'direct' ? 'Start chat' : 'Create group'}
          </button>
        </div>
      </form>
    </Dialog>
  );
}
