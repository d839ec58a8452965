import type { CoreConfig } from '../../lambdas/core/config';
import { DEFAULT_CORE_CONFIG } from '../../lambdas/core/config';
import { redactedValue } from '../../lambdas/core/redaction';
import { scheduleView } from '../../lambdas/http/schedule-views';
import type { Schedule } from '../../lambdas/ports/schedule-store';
import { T0 } from '../helpers/messages';

const MINUTE_MS = 60_000;
const CONFIG: CoreConfig = DEFAULT_CORE_CONFIG;

function schedule(overrides: Partial<Schedule> = {}): Schedule {
  return {
    scheduleId: 'scd_1',
    cron: 'CRON_TZ=Europe/Berlin 0 4 * * *',
    destination: 'https://example.com/hook?tenant=a',
    headers: {},
    body: new Uint8Array(),
    createdAt: T0,
    isPaused: false,
    nextScheduleTime: T0 + MINUTE_MS,
    ...overrides,
  };
}

describe('Function: scheduleView', () => {
  it('shows every template field the headers set, in QStash units and names', () => {
    const view = scheduleView(
      schedule({
        headers: {
          'content-type': 'application/json',
          'upstash-method': 'put',
          'upstash-forward-test-header': 'test-value',
          'upstash-retries': '5',
          'upstash-delay': '1m10s',
          'upstash-timeout': '1.5s',
          'upstash-retry-delay': '1000 * (1 + retried)',
          'upstash-callback': 'https://example.com/cb',
          'upstash-callback-forward-x-cb': 'c',
          'upstash-failure-callback': 'https://example.com/failed',
          'upstash-label': 'billing,nightly',
        },
        body: new TextEncoder().encode('{"hello":"world"}'),
        queueName: 'reports',
        callerIp: '203.0.113.7',
        lastScheduleTime: T0,
        error: 'URL group "x" not found',
      }),
      CONFIG,
    );

    expect(view).toEqual({
      scheduleId: 'scd_1',
      cron: 'CRON_TZ=Europe/Berlin 0 4 * * *',
      destination: 'https://example.com/hook?tenant=a',
      createdAt: T0,
      method: 'PUT',
      header: { 'Content-Type': ['application/json'], 'Test-Header': ['test-value'] },
      body: '{"hello":"world"}',
      retries: 5,
      delay: 70,
      timeout: 1.5,
      retryDelayExpression: '1000 * (1 + retried)',
      callback: 'https://example.com/cb',
      failureCallback: 'https://example.com/failed',
      callbackHeader: { 'X-Cb': ['c'] },
      failureCallbackHeader: {},
      queueName: 'reports',
      callerIp: '203.0.113.7',
      callerIP: '203.0.113.7',
      labels: ['billing', 'nightly'],
      label: 'billing',
      isPaused: false,
      lastScheduleTime: T0,
      nextScheduleTime: T0 + MINUTE_MS,
      error: 'URL group "x" not found',
    });
  });

  it('shows the defaults, and leaves out what the schedule does not set', () => {
    const view = scheduleView(schedule({ isPaused: true, nextScheduleTime: undefined }), CONFIG);

    expect(view).toEqual({
      scheduleId: 'scd_1',
      cron: 'CRON_TZ=Europe/Berlin 0 4 * * *',
      destination: 'https://example.com/hook?tenant=a',
      createdAt: T0,
      method: 'POST',
      header: {},
      retries: CONFIG.defaultRetries,
      labels: [],
      isPaused: true,
    });
  });

  it('shows a body that is not UTF-8 as bodyBase64', () => {
    const view = scheduleView(schedule({ body: new Uint8Array([0xff, 0x00]) }), CONFIG);

    expect(view.body).toBeUndefined();
    expect(view.bodyBase64).toBe('/wA=');
  });

  it('echoes flow control, and shows redacted fields hashed', () => {
    const view = scheduleView(
      schedule({
        headers: {
          'upstash-forward-authorization': 'Bearer s3cret',
          'upstash-flow-control-key': 'llm',
          'upstash-flow-control-value': 'rate=5, period=1d',
          'upstash-redact-fields': 'body, header[Authorization]',
        },
        body: new TextEncoder().encode('private'),
      }),
      CONFIG,
    );

    expect(view).toMatchObject({
      flowControlKey: 'llm',
      rate: 5,
      period: 86_400,
      header: { Authorization: [redactedValue('Bearer s3cret')] },
      body: redactedValue('private'),
    });
    expect(JSON.stringify(view)).not.toMatch(/s3cret|private/);
  });

  it('says why in error, instead of failing, when a limit was lowered after creation', () => {
    const view = scheduleView(schedule({ headers: { 'upstash-retries': '5' } }), {
      ...CONFIG,
      maxRetries: 3,
    });

    expect(view.error).toContain('Upstash-Retries');
    expect(view.scheduleId).toBe('scd_1');
  });
});
