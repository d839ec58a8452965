import type { PublishedMessage, PublishResult } from '../../core/publish';
import type { ApiResponse } from '../api-types';
import { jsonResponse } from '../api-types';

/** One published message on the wire: `deduplicated` appears only when it is true. */
export type PublishedJson = { messageId: string; url: string; deduplicated?: true };

export function publishedJson(published: PublishedMessage): PublishedJson {
  const { messageId, url } = published;
  return published.deduplicated ? { messageId, url, deduplicated: true } : { messageId, url };
}

/** A URL answers an object, a URL group a bare array (qstash-api.md §2.8, §9 item 2). */
export function publishResultJson(result: PublishResult): PublishedJson | PublishedJson[] {
  return Array.isArray(result) ? result.map(publishedJson) : publishedJson(result);
}

/**
 * 200 when something new was published; 202 when nothing was, because every message was a
 * duplicate (for a URL group: every endpoint's), each answer naming the message published first.
 */
export function publishResponse(result: PublishResult): ApiResponse {
  const messages = Array.isArray(result) ? result : [result];
  const allDuplicates = messages.length > 0 && messages.every((message) => message.deduplicated);
  return jsonResponse(allDuplicates ? 202 : 200, publishResultJson(result));
}
