// How many terminal columns text takes: user-perceived characters (grapheme clusters), two
// columns for East Asian wide characters and emoji, one for the rest. Good enough to lay
// out a chat; terminals themselves disagree on a few emoji.

const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });
const PICTOGRAPHIC = /\p{Extended_Pictographic}/u;

/** The grapheme clusters of `text`. */
export function graphemes(text: string): string[] {
  return Array.from(segmenter.segment(text), (s) => s.segment);
}

/** Columns of one grapheme cluster. */
export function clusterWidth(cluster: string): number {
  const cp = cluster.codePointAt(0) ?? 0;
  if (cp < 0x1100) return PICTOGRAPHIC.test(cluster) && cluster.includes('\ufe0f') ? 2 : 1;
  if (
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0xa4cf && cp !== 0x303f) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1faff) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  ) {
    return 2;
  }
  return PICTOGRAPHIC.test(cluster) && cluster.includes('\ufe0f') ? 2 : 1;
}

/** Columns `text` takes (no control characters expected). */
export function textWidth(text: string): number {
  let width = 0;
  for (const cluster of graphemes(text)) width += clusterWidth(cluster);
  return width;
}

/** The longest start of `text` that fits in `width` columns, and the rest. */
export function splitAtWidth(text: string, width: number): [string, string] {
  let used = 0;
  let end = 0;
  for (const cluster of graphemes(text)) {
    const w = clusterWidth(cluster);
    if (used + w > width) break;
    used += w;
    end += cluster.length;
  }
  return [text.slice(0, end), text.slice(end)];
}
