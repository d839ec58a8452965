import type { IncomingMessage, Server } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client as QStashClient, Receiver } from '@upstash/qstash';
import type { RouteFunction, WorkflowRunLog, WorkflowServeOptions } from '@upstash/workflow';
import { serve, Client as WorkflowClient } from '@upstash/workflow';
import type { TestServer } from './embedded-server';
import {
  DEV_CURRENT_SIGNING_KEY,
  DEV_NEXT_SIGNING_KEY,
  DEV_TOKEN,
  eventually,
  useSdkSuite,
} from './embedded-server';

/** One `serve()` endpoint: its route function, and its failure function if any. */
export type WorkflowEndpoint = {
  readonly route: RouteFunction<unknown, unknown>;
  readonly failureFunction?: WorkflowServeOptions<unknown, unknown>['failureFunction'];
};

/** A request the app answered, for asserting what the server delivered. */
export type AppRequest = {
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  readonly status: number;
};

/**
 * A real app on 127.0.0.1 serving `@upstash/workflow` endpoints through the SDK's own `serve()`
 * on node:http, as a user's app would: its client publishes to the sqstash server at
 * `qstashUrl`, and its Receiver checks every request's signature with the server's keys (the
 * SDK answers a request that fails the check with an error, so an unsigned delivery fails).
 */
export class WorkflowApp {
  readonly requests: AppRequest[] = [];
  readonly #server: Server;

  private constructor(server: Server) {
    this.#server = server;
  }

  static async start(
    qstashUrl: string,
    endpoints: Readonly<Record<string, WorkflowEndpoint>>,
    signingKeys = { current: DEV_CURRENT_SIGNING_KEY, next: DEV_NEXT_SIGNING_KEY },
    token = DEV_TOKEN,
  ): Promise<WorkflowApp> {
    const client = new QStashClient({ baseUrl: qstashUrl, token });
    const receiver = new Receiver({
      currentSigningKey: signingKeys.current,
      nextSigningKey: signingKeys.next,
    });
    const handlers = new Map(
      Object.entries(endpoints).map(([path, endpoint]) => [
        path,
        serve(endpoint.route, {
          failureFunction: endpoint.failureFunction,
          qstashClient: client,
          receiver,
          // Never the test process's QSTASH_* variables.
          env: {},
        }).handler,
      ]),
    );
    let app: WorkflowApp | undefined;
    const server = createServer((req, res) => {
      void (async () => {
        const body = await readBody(req);
        const path = req.url ?? '/';
        const handler = handlers.get(path.split('?')[0]!);
        const response = handler
          ? await handler(
              new Request(`${app!.url}${path}`, {
                method: req.method,
                headers: headersOf(req),
                body: req.method === 'GET' || req.method === 'HEAD' ? undefined : body,
              }),
            )
          : new Response('no such workflow', { status: 404 });
        const text = await response.text();
        app!.requests.push({
          path,
          headers: headersOf(req),
          body: body.toString(),
          status: response.status,
        });
        res.writeHead(response.status, Object.fromEntries(response.headers));
        res.end(text);
      })();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    app = new WorkflowApp(server);
    return app;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function headersOf(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

/** One server for a workflow test file, a Workflow client on it, and apps stopped after each test. */
export type WorkflowSuite = {
  readonly server: TestServer;
  readonly client: WorkflowClient;
  /** Starts an app serving `endpoints`; stopped in afterEach. */
  startApp(endpoints: Readonly<Record<string, WorkflowEndpoint>>): Promise<WorkflowApp>;
  /** Polls `client.logs` until the run reaches `state`, and resolves its log. */
  waitForRun(
    workflowRunId: string,
    state: WorkflowRunLog['workflowState'],
  ): Promise<WorkflowRunLog>;
};

export function useWorkflowSuite(env: Record<string, string> = {}): WorkflowSuite {
  const sdk = useSdkSuite(env);
  const apps: WorkflowApp[] = [];
  let client: WorkflowClient | undefined;
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((app) => app.stop()));
  });
  const workflowClient = () => {
    client ??= new WorkflowClient({ baseUrl: sdk.server.url, token: DEV_TOKEN });
    return client;
  };
  return {
    get server() {
      return sdk.server;
    },
    get client() {
      return workflowClient();
    },
    startApp: async (endpoints) => {
      const app = await WorkflowApp.start(sdk.server.url, endpoints);
      apps.push(app);
      return app;
    },
    waitForRun: (workflowRunId, state) => waitForRunState(workflowClient(), workflowRunId, state),
  };
}

export async function waitForRunState(
  client: WorkflowClient,
  workflowRunId: string,
  state: WorkflowRunLog['workflowState'],
  timeoutMs = 15_000,
): Promise<WorkflowRunLog> {
  return eventually(async () => {
    const { runs } = await client.logs({ workflowRunId });
    expect(runs.map((run) => run.workflowState)).toEqual([state]);
    return runs[0]!;
  }, timeoutMs);
}
