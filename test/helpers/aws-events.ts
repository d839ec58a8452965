import type { APIGatewayProxyEventV2, SQSEvent, SQSRecord } from 'aws-lambda';

/** An API Gateway HTTP API (payload 2.0) event as AWS sends it to the API function. */
export function apiGatewayEvent(options: {
  method: string;
  rawPath: string;
  rawQueryString?: string;
  headers?: Record<string, string>;
  body?: Uint8Array | string;
  /** What API Gateway does for a body that is not text or JSON (aws-facts.md §5). */
  base64?: boolean;
  sourceIp?: string;
}): APIGatewayProxyEventV2 {
  const rawQueryString = options.rawQueryString ?? '';
  const body = options.body;
  const encoded =
    body === undefined
      ? undefined
      : options.base64
        ? Buffer.from(body).toString('base64')
        : typeof body === 'string'
          ? body
          : Buffer.from(body).toString('utf8');
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: options.rawPath,
    rawQueryString,
    headers: { host: 'abc123.execute-api.us-east-1.amazonaws.com', ...options.headers },
    queryStringParameters: rawQueryString
      ? Object.fromEntries(new URLSearchParams(rawQueryString))
      : undefined,
    requestContext: {
      accountId: '123456789012',
      apiId: 'abc123',
      domainName: 'abc123.execute-api.us-east-1.amazonaws.com',
      domainPrefix: 'abc123',
      http: {
        method: options.method,
        path: options.rawPath,
        protocol: 'HTTP/1.1',
        sourceIp: options.sourceIp ?? '203.0.113.9',
        userAgent: 'upstash-qstash-js',
      },
      requestId: 'req-1',
      routeKey: '$default',
      stage: '$default',
      time: '23/Nov/2026:08:00:00 +0000',
      timeEpoch: 1_795_420_800_000,
    },
    body: encoded,
    isBase64Encoded: options.base64 ?? false,
  };
}

/** One SQS record as the event source mapping delivers it. */
export function sqsRecord(options: {
  body: string;
  sqsMessageId?: string;
  receiveCount?: number;
  sentAt?: number;
  queueArn?: string;
}): SQSRecord {
  const sqsMessageId = options.sqsMessageId ?? `sqs-${Math.random().toString(36).slice(2)}`;
  return {
    messageId: sqsMessageId,
    receiptHandle: `receipt-${sqsMessageId}`,
    body: options.body,
    attributes: {
      ApproximateReceiveCount: String(options.receiveCount ?? 1),
      SentTimestamp: String(options.sentAt ?? Date.now()),
      SenderId: 'AIDAEXAMPLE',
      ApproximateFirstReceiveTimestamp: String(Date.now()),
    },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: options.queueArn ?? 'arn:aws:sqs:us-east-1:123456789012:sqstash-delivery',
    awsRegion: 'us-east-1',
  };
}

export function sqsEvent(records: SQSRecord[]): SQSEvent {
  return { Records: records };
}
