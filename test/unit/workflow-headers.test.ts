import {
  publishHeadersOf,
  readWorkflowHeaders,
  runConfigHeaders,
  workflowDeliveryHeaders,
} from '../../lambdas/core/workflow/workflow-headers';
import { tokenUserId } from '../../lambdas/core/workflow/workflow-waits';
import { expectBadRequest } from '../helpers/bad-request';
import { DEV_TOKEN } from '../helpers/embedded-server';
import { makeMessage, T0 } from '../helpers/messages';

describe('readWorkflowHeaders', () => {
  it('returns undefined for a publish that is not a run', () => {
    expect(readWorkflowHeaders({ 'upstash-retries': '1' })).toBeUndefined();
  });

  it('reads a trigger as the SDK sends it', () => {
    expect(
      readWorkflowHeaders({
        'upstash-workflow-runid': 'wfr_abc',
        'upstash-workflow-init': 'true',
        'upstash-workflow-url': 'https://app.example.com/wf',
        'upstash-feature-set': 'LazyFetch,InitialBody,WF_DetectTrigger,WF_TriggerOnConfig',
      }),
    ).toEqual({
      runId: 'wfr_abc',
      init: true,
      url: 'https://app.example.com/wf',
      callType: 'step',
      invoke: false,
      lazyFetch: true,
    });
  });

  it('reads a context.call, which offers no LazyFetch', () => {
    expect(
      readWorkflowHeaders({
        'upstash-workflow-runid': 'wfr_abc',
        'upstash-workflow-init': 'false',
        'upstash-workflow-calltype': 'toCallback',
        'upstash-feature-set': 'WF_NoDelete,InitialBody',
      }),
    ).toMatchObject({ init: false, callType: 'toCallback', lazyFetch: false });
  });

  it('refuses a run id that cannot travel in a path, and an unknown call type', () => {
    expectBadRequest(
      () => readWorkflowHeaders({ 'upstash-workflow-runid': 'wfr_a/b' }),
      'Upstash-Workflow-RunId',
      'wfr_a/b',
    );
    expectBadRequest(
      () =>
        readWorkflowHeaders({
          'upstash-workflow-runid': 'wfr_a',
          'upstash-workflow-calltype': 'later',
        }),
      'Upstash-Workflow-CallType',
      'later',
    );
  });
});

describe('runConfigHeaders', () => {
  it("keeps the trigger's run-wide configuration and nothing of the trigger alone", () => {
    expect(
      runConfigHeaders({
        'upstash-retries': '2',
        'upstash-retry-delay': '1000',
        'upstash-label': 'billing',
        'upstash-failure-callback': 'https://app.example.com/wf',
        'upstash-failure-callback-workflow-runid': 'wfr_a',
        'upstash-forward-x-tenant': '42',
        'upstash-delay': '10s',
        'upstash-workflow-init': 'true',
        'content-type': 'application/json',
        authorization: 'Bearer secret',
      }),
    ).toEqual({
      'upstash-retries': '2',
      'upstash-retry-delay': '1000',
      'upstash-label': 'billing',
      'upstash-failure-callback': 'https://app.example.com/wf',
      'upstash-failure-callback-workflow-runid': 'wfr_a',
      'upstash-forward-x-tenant': '42',
    });
  });
});

describe('publishHeadersOf', () => {
  it('keeps Upstash-* and Content-Type, lowercased and joined, and never credentials', () => {
    expect(
      publishHeadersOf({
        'Upstash-Workflow-RunId': 'wfr_a',
        'Upstash-Forward-X': ['1', '2'],
        'Content-Type': 'application/json',
        Authorization: 'Bearer secret',
        'X-Other': 'x',
      }),
    ).toEqual({
      'upstash-workflow-runid': 'wfr_a',
      'upstash-forward-x': '1, 2',
      'content-type': 'application/json',
    });
  });
});

describe('workflowDeliveryHeaders', () => {
  it("adds the run's id, creation time and labels to a run's message", () => {
    const message = makeMessage({
      labels: ['a', 'b'],
      workflow: { runId: 'wfr_a', url: 'https://x', createdAt: T0, callType: 'step' },
    });

    expect(workflowDeliveryHeaders(message)).toEqual({
      'Content-Type': ['application/json'],
      'Upstash-Workflow-Runid': ['wfr_a'],
      'Upstash-Workflow-Createdat': [String(T0)],
      'Upstash-Label': ['a,b'],
    });
  });

  it('leaves any other message as it is', () => {
    const message = makeMessage();
    expect(workflowDeliveryHeaders(message)).toBe(message.header);
  });
});

describe('tokenUserId', () => {
  it('reads the user of a QStash token, as the SDK does for webhook URLs', () => {
    expect(tokenUserId(DEV_TOKEN)).toBe('defaultUser');
  });

  it('finds none in a token of another shape', () => {
    expect(tokenUserId('my-own-secret-token')).toBeUndefined();
    expect(tokenUserId(Buffer.from('{"Password":"x"}').toString('base64'))).toBeUndefined();
  });
});
