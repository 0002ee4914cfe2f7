import { Component, type FunctionComponent, h } from 'preact';

/** A component that re-renders only when a prop changes (shallow), without preact/compat's weight. */
export function memo<P extends object>(render: FunctionComponent<P>): FunctionComponent<P> {
  class Memo extends Component<P> {
    override shouldComponentUpdate(next: P): boolean {
      const prev = this.props as Record<string, unknown>;
      const now = next as Record<string, unknown>;
      for (const k in now) if (k !== 'children' && now[k] !== prev[k]) return true;
      for (const k in prev) if (!(k in now)) return true;
      return false;
    }
    override render() {
      return h(render, this.props);
    }
  }
  return Memo as unknown as FunctionComponent<P>;
}
