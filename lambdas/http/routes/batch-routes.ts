import type { BatchItemResult } from '../../core/batch';
import { BATCH_BODY, publishBatch } from '../../core/batch';
import type { PublishDeps } from '../../core/publish';
import { jsonResponse } from '../api-types';
import { readJsonBody } from '../json-body';
import type { Route } from '../route';
import type { PublishedJson } from './published-json';
import { publishResultJson } from './published-json';

type BatchItemJson = PublishedJson | PublishedJson[] | { error: string };

function batchItemJson(item: BatchItemResult): BatchItemJson {
  return !Array.isArray(item) && 'error' in item ? { error: item.error } : publishResultJson(item);
}

/**
 * `POST /v2/batch`: always 200 with one answer per message in request order (qstash-api.md
 * §2.6): an object for a URL, a nested array for a URL group, `{"error"}` for a refused message.
 */
export const batchRoutes: Route<PublishDeps>[] = [
  {
    method: 'POST',
    pattern: /^\/v2\/batch$/,
    handle: async ({ request, deps }) => {
      const results = await publishBatch(deps, {
        messages: readJsonBody(request, BATCH_BODY),
        callerIp: request.sourceIp,
      });
      return jsonResponse(200, results.map(batchItemJson));
    },
  },
];
