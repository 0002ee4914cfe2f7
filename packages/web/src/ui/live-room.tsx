import type { ChatMessage, ParleyClient } from '@parley/client';
import { useEffect, useRef, useState } from 'preact/hooks';
import { navigate } from '../router.js';
import { Avatar } from './avatar.js';

/** Faster than this, nobody reads along: the room switches to sampling. */
const READABLE_PER_SECOND = 8;
/** In sampling mode, this many messages per second are shown. */
const SAMPLED_PER_SECOND = 5;
const TICK_MS = 250;
const RATE_WINDOW_MS = 2_000;
const LANES = 8;
const MAX_FLYING = 40;
const FEED_SIZE = 50;
const FLIGHT_MS = 9_000;
const LANE_GAP_MS = 700;
const MAX_WAIT_MS = 2_000;

interface Item {
  id: number;
  sender: string;
  text: string;
  own: boolean;
}
interface Flying extends Item {
  lane: number;
  /** Waits for the one before it in its lane to move on. */
  delayMs: number;
}

let nextId = 0;

/**
 * A live-stream style room: a video area with messages flying over it (danmaku), the online
 * count, and the recent messages beside it. Arrivals are buffered and drawn a few times per
 * second, so a flood of messages costs the page a bounded amount of work; above what a person
 * can read, a sample is shown and the rest counted.
 */
export function LiveRoom({ client, room, me }: { client: ParleyClient; room: string; me: string }) {
  const [status, setStatus] = useState<'joining' | 'joined' | 'failed'>('joining');
  const [error, setError] = useState('');
  const [online, setOnline] = useState(0);
  const [flying, setFlying] = useState<Flying[]>([]);
  const [feed, setFeed] = useState<Item[]>([]);
  const [rate, setRate] = useState(0);
  const [paused, setPaused] = useState(false);
  const [draft, setDraft] = useState('');
  const buffer = useRef<ChatMessage[]>([]);
  const arrivals = useRef<number[]>([]);
  const laneFree = useRef<number[]>(new Array<number>(LANES).fill(0));
  const pausedRef = useRef(paused);
  pausedRef.current = paused;

  useEffect(() => {
    let left = false;
    client.joinRoom(room, { recentLimit: 20 }).then(
      (joined) => {
        if (left) return;
        setStatus('joined');
        setOnline(joined.onlineCount);
        setFeed(joined.recent.map(toItem(me)).slice(-FEED_SIZE));
      },
      (err: unknown) => {
        setStatus('failed');
        setError(err instanceof Error ? err.message : String(err));
      },
    );
    const offMessage = client.on('message', (m) => {
      if (m.conversationId !== room) return;
      buffer.current.push(m);
      arrivals.current.push(performance.now());
    });
    const offRoom = client.on('room', (r) => {
      if (r.roomId === room) setOnline(r.onlineCount);
    });
    const timer = setInterval(() => {
      const now = performance.now();
      const recent = arrivals.current;
      let drop = 0;
      while (drop < recent.length && (recent[drop] ?? 0) < now - RATE_WINDOW_MS) drop++;
      if (drop > 0) recent.splice(0, drop);
      const perSecond = recent.length / (RATE_WINDOW_MS / 1000);
      setRate(Math.round(perSecond));
      const incoming = buffer.current;
      if (incoming.length === 0) return;
      buffer.current = [];
      const shown =
        perSecond > READABLE_PER_SECOND
          ? sample(incoming, Math.max(1, Math.round((SAMPLED_PER_SECOND * TICK_MS) / 1000)))
          : incoming.slice(-10);
      show(shown.map(toItem(me)));
    }, TICK_MS);
    return () => {
      left = true;
      offMessage();
      offRoom();
      clearInterval(timer);
      client.leaveRoom(room).catch(() => undefined);
    };
  }, [client, room, me]);

  function show(items: Item[]): void {
    setFeed((f) => [...f, ...items].slice(-FEED_SIZE));
    if (pausedRef.current) return;
    const now = performance.now();
    const lanes = laneFree.current;
    const added: Flying[] = [];
    for (const item of items) {
      let lane = 0;
      for (let i = 1; i < LANES; i++) if ((lanes[i] ?? 0) < (lanes[lane] ?? 0)) lane = i;
      const start = Math.max(now, lanes[lane] ?? 0);
      // Every lane busy for a while: this one stays in the list only (one's own always flies).
      if (start - now > MAX_WAIT_MS && !item.own) continue;
      lanes[lane] = start + LANE_GAP_MS + item.text.length * 40; // longer texts need a longer gap
      added.push({ ...item, lane, delayMs: Math.round(start - now) });
    }
    if (added.length > 0) setFlying((f) => [...f, ...added].slice(-MAX_FLYING));
  }

  function send(): void {
    const text = draft.trim();
    if (!text) return;
    setDraft('');
    show([{ id: nextId++, sender: me, text, own: true }]);
    client.sendToRoom(room, text).catch((err: unknown) => {
      setError(err instanceof Error ? err.message : String(err));
    });
  }

  const sampling = rate > READABLE_PER_SECOND;
  return (
    <section class="live" aria-label={`Live room ${room}`}>
      <header class="chat-head">
        <button
          type="button"
          class="icon-button back"
          aria-label="Back to the conversation list"
          onClick={() => {
            navigate('/');
          }}
        >
          ‹
        </button>
        <div class="chat-title">
          <h2>Live: {room}</h2>
          <p class="muted">
            <span class="online-dot" aria-hidden="true" /> <span data-testid="online-count">{online}</span> online
            {status === 'joining' ? ' · joining…' : ''}
          </p>
        </div>
        <button
          type="button"
          aria-pressed={paused}
          data-testid="pause"
          onClick={() => {
            setPaused(!paused);
            setFlying([]); // shown again, the overlay starts empty rather than all at once
            laneFree.current.fill(0);
          }}
        >
          {paused ? 'Show danmaku' : 'Hide danmaku'}
        </button>
      </header>
      <div class="stage">
        <div class="video" role="img" aria-label="Video area (placeholder)">
          <span class="live-badge">LIVE</span>
          <span class="play" aria-hidden="true">
            ▶
          </span>
          <div class="danmaku-layer" aria-hidden="true">
            {!paused &&
              flying.map((f) => (
                <span
                  key={f.id}
                  class={`danmaku ${f.own ? 'own' : ''}`}
                  style={{
                    top: `${String(6 + f.lane * 11)}%`,
                    animationDuration: `${String(FLIGHT_MS)}ms`,
                    animationDelay: `${String(f.delayMs)}ms`,
                  }}
                  onAnimationEnd={() => {
                    setFlying((all) => all.filter((x) => x.id !== f.id));
                  }}
                >
                  {f.text}
                </span>
              ))}
          </div>
        </div>
        <div class="rate" role="status" data-sampling={sampling}>
          {sampling
            ? `High traffic: ${String(rate)} messages/s, showing about ${String(SAMPLED_PER_SECOND)}/s`
            : `${String(rate)} messages/s`}
        </div>
        <div class="feed" role="log" aria-label="Room messages" aria-live="off">
          <ol>
            {feed.map((item) => (
              <li key={item.id} class={item.own ? 'own' : ''}>
                <Avatar name={item.sender} size={24} />
                <strong>{item.sender}</strong> <span>{item.text}</span>
              </li>
            ))}
          </ol>
        </div>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <form
          class="composer"
          onSubmit={(e) => {
            e.preventDefault();
            send();
          }}
        >
          <label for="room-input" class="sr-only">
            Say something in the room
          </label>
          <input
            id="room-input"
            value={draft}
            maxLength={200}
            placeholder="Say something…"
            onInput={(e) => {
              setDraft(e.currentTarget.value);
            }}
            disabled={status !== 'joined'}
          />
          <button type="submit" class="primary" disabled={status !== 'joined' || draft.trim() === ''}>
            Send
          </button>
        </form>
      </div>
    </section>
  );
}

function toItem(me: string): (m: ChatMessage) => Item {
  return (m) => ({ id: nextId++, sender: m.senderId, text: m.content.text ?? '', own: m.senderId === me });
}

/** `n` messages spread evenly over the batch (the latest always among them). */
function sample<T>(items: readonly T[], n: number): T[] {
  if (items.length <= n) return [...items];
  const out: T[] = [];
  const step = items.length / n;
  for (let i = 1; i <= n; i++) out.push(items[Math.min(items.length - 1, Math.round(i * step) - 1)] as T);
  return out;
}
