/** Reading page options from the query string. */
import type { VariantMode } from '../variant.js';

export function queryParams(): URLSearchParams {
  return new URLSearchParams(location.search);
}

export function boolParam(q: URLSearchParams, name: string, fallback: boolean): boolean {
  const v = q.get(name);
  if (v === null) return fallback;
  return v === '' || v === '1' || v === 'true' || v === 'yes';
}

export function numberParam(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null || v === '') return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

/** `&variant=source` plays the original even when the browser cannot decode it; anything else is `auto`. */
export function variantParam(q: URLSearchParams): VariantMode {
  return q.get('variant') === 'source' ? 'source' : 'auto';
}
