import { useState } from 'preact/hooks';

const SUGGESTED = ['alice', 'bob', 'carol', 'dave'];

/** Development sign-in: pick or type a user name. */
export function SignIn({ onSignIn }: { onSignIn: (userId: string) => Promise<void> }) {
  const [name, setName] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);

  async function submit(userId: string): Promise<void> {
    const id = userId.trim();
    if (!id) {
      setError('Type a user name.');
      return;
    }
    setBusy(true);
    setError('');
    try {
      await onSignIn(id);
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
      setBusy(false);
    }
  }

  return (
    <main class="sign-in">
      <form
        class="card"
        onSubmit={(e) => {
          e.preventDefault();
          void submit(name);
        }}
        aria-describedby="sign-in-note"
      >
        <img src="/icon.svg" alt="" width={56} height={56} />
        <h1>Sign in to Parley</h1>
        <p id="sign-in-note" class="muted">
          Development sign-in: any name works. It is available only while the server runs in development mode.
        </p>
        <label for="user-name">User name</label>
        <input
          id="user-name"
          name="user"
          autoComplete="username"
          autoFocus
          maxLength={128}
          value={name}
          onInput={(e) => {
            setName(e.currentTarget.value);
          }}
          aria-invalid={error !== ''}
          aria-errormessage="sign-in-error"
        />
        <div class="suggestions" role="group" aria-label="Pick a user">
          {SUGGESTED.map((u) => (
            <button type="button" class="chip" key={u} disabled={busy} onClick={() => void submit(u)}>
              {u}
            </button>
          ))}
        </div>
        <p id="sign-in-error" class="error" role="alert">
          {error}
        </p>
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
