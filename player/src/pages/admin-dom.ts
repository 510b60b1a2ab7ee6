/**
 * Small DOM helpers shared by the admin console's sections. Everything that came over the network
 * is set with textContent (or as a property), never parsed as HTML.
 */
import { ApiError } from '../api/admin.js';

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, className = '', value = ''): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (value) e.textContent = value;
  return e;
}

export function button(label: string, className: string, onClick: (b: HTMLButtonElement) => void): HTMLButtonElement {
  const b = el('button', className, label);
  b.type = 'button';
  b.addEventListener('click', () => onClick(b));
  return b;
}

/**
 * A button for a destructive action: the first click arms it for 3 s (`armedLabel`, class
 * `armed`), the second runs `onConfirm` — no blocking confirm() dialog.
 */
export function armedButton(label: string, armedLabel: string, className: string, onConfirm: () => void): HTMLButtonElement {
  let armed: ReturnType<typeof setTimeout> | undefined;
  const disarm = (b: HTMLButtonElement) => {
    clearTimeout(armed);
    armed = undefined;
    b.textContent = label;
    b.classList.remove('armed');
  };
  return button(label, className, (b) => {
    if (armed === undefined) {
      b.textContent = armedLabel;
      b.classList.add('armed');
      armed = setTimeout(() => disarm(b), 3000);
      return;
    }
    disarm(b);
    onConfirm();
  });
}

/** A section's error line: `message (CODE)`; hidden again by `show(undefined)`. */
export class ErrorLine {
  constructor(private readonly element: HTMLElement) {}

  show(error: unknown): void {
    if (error === undefined) {
      this.element.hidden = true;
      this.element.textContent = '';
      return;
    }
    this.element.textContent = errorText(error);
    this.element.hidden = false;
  }
}

export function errorText(error: unknown): string {
  if (error instanceof ApiError) return error.status === 0 ? error.message : `${error.message} (${error.code})`;
  return error instanceof Error ? error.message : String(error);
}

export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return h ? `${h}h ${String(m).padStart(2, '0')}m` : m ? `${m}m ${String(sec).padStart(2, '0')}s` : `${sec}s`;
}

export function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = -1;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v >= 100 ? Math.round(v) : Math.round(v * 10) / 10} ${units[i]}`;
}

/** `2024-05-01T10:00:00.000Z` in the browser's time zone, to the second. */
export function formatTime(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'medium' });
}

/**
 * Keeps one `<tr>` per key in `tbody`, in the order of `keys`: creates missing rows, removes
 * gone ones, and moves nodes only when the order changed (moving would blur a focused input).
 */
export function syncRows<R extends { rows: HTMLTableRowElement[] }>(tbody: HTMLElement, map: Map<string, R>, keys: string[], create: (key: string) => R): void {
  const wanted = new Set(keys);
  for (const [key, r] of map) {
    if (wanted.has(key)) continue;
    for (const tr of r.rows) tr.remove();
    map.delete(key);
  }
  for (const key of keys) if (!map.has(key)) map.set(key, create(key));
  const order = keys.flatMap((k) => map.get(k)!.rows);
  const shown = [...tbody.children];
  if (order.length !== shown.length || order.some((tr, i) => tr !== shown[i])) tbody.append(...order);
}
