import type { KeyRing } from '../../core/key-ring';
import { jsonResponse } from '../api-types';
import type { Route } from '../route';

export type KeyRouteDeps = { readonly keyRing: KeyRing };

/** `/v2/keys`: the signing keys, and their rotation (qstash-api.md §4.3, §6.8). */
export const keyRoutes: Route<KeyRouteDeps>[] = [
  {
    method: 'GET',
    pattern: /^\/v2\/keys$/,
    handle: async ({ deps }) => {
      const { current, next } = deps.keyRing.current();
      return jsonResponse(200, { current, next });
    },
  },
  {
    method: 'POST',
    pattern: /^\/v2\/keys\/rotate$/,
    handle: async ({ deps }) => {
      const { current, next } = await deps.keyRing.rotate();
      return jsonResponse(200, { current, next });
    },
  },
];
