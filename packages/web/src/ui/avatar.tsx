import { hue, initials } from '../format.js';

/** Initials on a colour that stays the same for a name. Decorative: the name is always next to it. */
export function Avatar({ name, size = 40, group = false }: { name: string; size?: number; group?: boolean }) {
  return (
    <span
      class={group ? 'avatar avatar-group' : 'avatar'}
      aria-hidden="true"
      style={{
        '--hue': hue(name),
        width: `${String(size)}px`,
        height: `${String(size)}px`,
        fontSize: `${String(Math.round(size * 0.4))}px`,
      }}
    >
      {initials(name)}
    </span>
  );
}
