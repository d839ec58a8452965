import type { SigningKeys } from '../../core/signing';
import { jsonResponse } from '../api-types';
import type { Route } from '../route';

export type KeyRouteDeps = { readonly signingKeys: () => SigningKeys };

export const keyRoutes: Route<KeyRouteDeps>[] = [
  {
    method: 'GET',
    pattern: /^\/v2\/keys$/,
    handle: async ({ deps }) => {
      const { current, next } = deps.signingKeys();
      return jsonResponse(200, { current, next });
    },
  },
];
