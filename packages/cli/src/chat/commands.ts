// What a typed line means: a message to send, or a slash command. Pure: no I/O.

export type ChatInput =
  | { kind: 'send'; text: string }
  | { kind: 'open'; target: string }
  | { kind: 'list' }
  | { kind: 'dm'; userId: string }
  | { kind: 'group'; name: string; members: string[] }
  | { kind: 'more' }
  | { kind: 'retry'; which: number | 'all' }
  | { kind: 'reconnect' }
  | { kind: 'status' }
  | { kind: 'help' }
  | { kind: 'quit' }
  | { kind: 'nothing' }
  | { kind: 'error'; message: string };

/** Help lines, also the `--help` epilogue. */
export const HELP_LINES: readonly string[] = [
  'Type a message and press Enter to send it to the open conversation.',
  '  /list, /l                 the conversation list (unread counts, last message)',
  '  /open N|NAME, /o          open a conversation by its number in the list, name or user',
  '  N                         in the list: open conversation N',
  '  /dm USER                  open (or start) the 1:1 conversation with USER',
  '  /group NAME USER [USER..] create a group; quote a NAME with spaces: /group "our team" bob carol',
  '  /more, PageUp             load older messages (PageUp/PageDown scroll)',
  '  /retry [N|all]            send failed message N (shown as [!N]) again, or every failed one',
  '  /reconnect                retry the connection now',
  '  /status                   connection details',
  '  /help, /h                 this help',
  '  /quit, /q, Ctrl-C, Ctrl-D quit (unsent messages stay queued for the next start)',
  '  //text                    send a message that starts with /',
  'Message states: sending, sent, delivered, read, failed.',
];

const MAX_MEMBERS = 500;

/** Splits arguments on spaces; "double quoted" words keep their spaces. */
export function splitArgs(text: string): string[] | undefined {
  const args: string[] = [];
  const re = /"([^"]*)"|(\S+)/g;
  let quotes = 0;
  for (const ch of text) if (ch === '"') quotes++;
  if (quotes % 2 !== 0) return undefined;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) args.push(m[1] ?? m[2] ?? '');
  return args;
}

/** Reads one typed line. `inConversation` decides whether plain text is a message. */
export function parseInput(line: string, inConversation: boolean): ChatInput {
  const text = line.trim();
  if (text === '')
    return inConversation ? { kind: 'error', message: 'empty message: nothing sent' } : { kind: 'nothing' };
  if (text.startsWith('//')) return sendOrError(line.trim().slice(1), inConversation);
  if (!text.startsWith('/')) {
    if (!inConversation && /^\d+$/.test(text)) return { kind: 'open', target: text };
    return sendOrError(line.trim(), inConversation);
  }
  const space = text.search(/\s/);
  const name = (space === -1 ? text.slice(1) : text.slice(1, space)).toLowerCase();
  const rest = space === -1 ? '' : text.slice(space + 1).trim();
  const args = splitArgs(rest);
  if (args === undefined) return { kind: 'error', message: 'unbalanced quotes' };
  switch (name) {
    case 'help':
    case 'h':
    case '?':
      return { kind: 'help' };
    case 'list':
    case 'l':
    case 'ls':
      return { kind: 'list' };
    case 'open':
    case 'o':
      if (rest === '') return { kind: 'error', message: 'usage: /open N|NAME (see /list)' };
      return { kind: 'open', target: args.join(' ') };
    case 'dm':
      if (args.length !== 1) return { kind: 'error', message: 'usage: /dm USER' };
      return { kind: 'dm', userId: args[0] ?? '' };
    case 'group': {
      const [groupName, ...members] = args;
      if (groupName === undefined || groupName === '' || members.length === 0) {
        return { kind: 'error', message: 'usage: /group NAME USER [USER...]' };
      }
      if (members.length > MAX_MEMBERS) return { kind: 'error', message: `at most ${String(MAX_MEMBERS)} members` };
      return { kind: 'group', name: groupName, members: [...new Set(members)] };
    }
    case 'more':
      return { kind: 'more' };
    case 'retry': {
      if (args.length === 0 || args[0] === 'all') return { kind: 'retry', which: 'all' };
      const n = Number(args[0]);
      if (args.length > 1 || !Number.isInteger(n) || n < 1) return { kind: 'error', message: 'usage: /retry [N|all]' };
      return { kind: 'retry', which: n };
    }
    case 'reconnect':
      return { kind: 'reconnect' };
    case 'status':
      return { kind: 'status' };
    case 'quit':
    case 'q':
    case 'exit':
      return { kind: 'quit' };
    default:
      return { kind: 'error', message: `unknown command /${name}: type /help for the list` };
  }
}

function sendOrError(text: string, inConversation: boolean): ChatInput {
  if (!inConversation) {
    return { kind: 'error', message: 'no conversation open: /open N or NAME, /dm USER, or /help' };
  }
  if (text.trim() === '') return { kind: 'error', message: 'empty message: nothing sent' };
  return { kind: 'send', text };
}
