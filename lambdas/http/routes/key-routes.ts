import type { SigningKeys } from '../../core/signing';
import { jsonResponse } from '../api-types';
import type { Route } from '../route';

/**
 * The signing keys as the key routes use them: a KeyRing, or (the AWS API function, which
 * reads them only for these routes) one loaded at its first use.
 */
export type KeySource = {
  current(): SigningKeys | Promise<SigningKeys>;
  rotate(): Promise<SigningKeys>;
};

export type KeyRouteDeps = { readonly keyRing: KeySource };

/** `/v2/keys`: the signing keys, and their rotation (qstash-api.md §4.3, §6.8). */
export const keyRoutes: Route<KeyRouteDeps>[] = [
  {
    method: 'GET',
    pattern: /^\/v2\/keys$/,
    handle: async ({ deps }) => {
      const { current, next } = await deps.keyRing.current();
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
