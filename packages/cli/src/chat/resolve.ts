// Which conversation `/open TARGET` means. Pure: the list and names in, a view or why not out.
import type { ConversationView } from '@parley/client';

export type Resolved = { view: ConversationView; error?: undefined } | { view?: undefined; error: string };

/**
 * A conversation by its number in the list (from 1), its id, its title or 1:1 peer (any case),
 * or a title prefix that only one conversation has.
 */
export function resolveConversation(
  list: readonly ConversationView[],
  target: string,
  title: (view: ConversationView) => string,
  peer: (view: ConversationView) => string | undefined,
): Resolved {
  if (/^\d+$/.test(target)) {
    const view = list[Number(target) - 1];
    if (view) return { view };
    return {
      error:
        list.length === 0
          ? `no conversation ${target}: the list is empty (/dm USER starts one)`
          : `no conversation ${target}: the list has 1 to ${String(list.length)}`,
    };
  }
  const wanted = target.toLowerCase();
  const exact = list.filter(
    (v) => v.id === target || title(v).toLowerCase() === wanted || peer(v)?.toLowerCase() === wanted,
  );
  if (exact.length === 1 && exact[0]) return { view: exact[0] };
  const prefix = list.filter((v) => title(v).toLowerCase().startsWith(wanted));
  if (exact.length === 0 && prefix.length === 1 && prefix[0]) return { view: prefix[0] };
  const matches = exact.length > 1 ? exact : prefix;
  if (matches.length > 1) {
    return { error: `"${target}" matches ${String(matches.length)} conversations: use its number (/list)` };
  }
  return { error: `no conversation matches "${target}": /dm ${target} starts a 1:1` };
}
