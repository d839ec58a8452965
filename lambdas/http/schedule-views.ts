import type { CoreConfig } from '../core/config';
import { QStashApiError } from '../core/errors';
import type { PublishOptions } from '../core/publish-options';
import { parsePublishOptions } from '../core/publish-options';
import { redactBody, redactHeaders } from '../core/redaction';
import type { Schedule } from '../ports/schedule-store';
import type { Json } from './message-views';
import { defined, flowControlFields, labelFields, textOrBase64 } from './message-views';

const SECOND_MS = 1_000;
const DEFAULT_METHOD = 'POST';

/**
 * A Schedule object, as `GET /v2/schedules` and `GET /v2/schedules/{id}` answer (qstash-api.md
 * §6.4). The message template's fields are read from the stored headers by the publish parser
 * itself, so they show exactly what each tick publishes: `header` is what the destination
 * receives, `retries` has the default applied. Times are ms; `delay` and `timeout` are seconds,
 * present only when the schedule sets them. `callerIp` and `callerIP` both (§9).
 *
 * `lastScheduleStates` is not served: it would need the states of the last tick's messages,
 * and every SDK treats it as optional.
 */
export function scheduleView(schedule: Schedule, config: CoreConfig): Json {
  let options: PublishOptions | undefined;
  let unreadable: string | undefined;
  try {
    options = parsePublishOptions(schedule.headers, config);
  } catch (error) {
    // Only when the operator tightened a limit after the schedule was created: its ticks are
    // refused too, and the view says why instead of failing the whole list.
    if (!(error instanceof QStashApiError)) throw error;
    unreadable = `the schedule's headers are no longer accepted: ${error.message}`;
  }
  return defined({
    scheduleId: schedule.scheduleId,
    cron: schedule.cron,
    destination: schedule.destination,
    createdAt: schedule.createdAt,
    method: options?.method ?? DEFAULT_METHOD,
    header: redactHeaders(options?.header ?? {}, options?.redaction),
    ...textOrBase64(redactBody(schedule.body, options?.redaction), 'body'),
    retries: options?.maxRetries ?? config.defaultRetries,
    delay:
      options?.due.kind === 'delay' && options.due.delayMs > 0
        ? options.due.delayMs / SECOND_MS
        : undefined,
    timeout:
      options && schedule.headers['upstash-timeout'] !== undefined
        ? options.timeoutMs / SECOND_MS
        : undefined,
    retryDelayExpression: options?.retryDelayExpression,
    callback: options?.callback?.url,
    failureCallback: options?.failureCallback?.url,
    callbackHeader: options?.callback && redactHeaders(options.callback.header, options.redaction),
    failureCallbackHeader:
      options?.failureCallback && redactHeaders(options.failureCallback.header, options.redaction),
    queueName: schedule.queueName,
    callerIp: schedule.callerIp,
    callerIP: schedule.callerIp,
    ...labelFields(options?.labels ?? []),
    ...flowControlFields(options?.flowControl),
    isPaused: schedule.isPaused,
    lastScheduleTime: schedule.lastScheduleTime,
    nextScheduleTime: schedule.nextScheduleTime,
    error: schedule.error ?? unreadable,
  });
}
