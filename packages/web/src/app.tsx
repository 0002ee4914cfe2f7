import { useEffect, useState } from 'preact/hooks';
import { forgetUser, savedUser, signIn } from './session.js';
import { ChatStore } from './state/chat-store.js';
import { Shell } from './ui/shell.js';
import { SignIn } from './ui/sign-in.js';

/** Signs in (the saved user after a reload), then shows the app for that user. */
export function App() {
  const [store, setStore] = useState<ChatStore | undefined>();
  const [resuming, setResuming] = useState(() => savedUser() !== undefined);

  async function start(userId: string): Promise<void> {
    const client = await signIn(userId);
    const next = new ChatStore(client, userId);
    await next.start();
    setStore(next);
  }

  useEffect(() => {
    const user = savedUser();
    if (!user) return;
    start(user)
      .catch(() => {
        forgetUser(); // e.g. dev sign-in switched off: ask again
      })
      .finally(() => {
        setResuming(false);
      });
  }, []);

  async function signOut(): Promise<void> {
    forgetUser();
    await store?.stop();
    setStore(undefined);
    history.replaceState(null, '', '/');
  }

  if (store) return <Shell store={store} onSignOut={() => void signOut()} />;
  if (resuming)
    return (
      <div class="splash" role="status">
        Signing in…
      </div>
    );
  return <SignIn onSignIn={start} />;
}
