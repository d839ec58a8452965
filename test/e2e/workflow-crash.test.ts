import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client as WorkflowClient } from '@upstash/workflow';
import { DEV_TOKEN, eventually } from '../helpers/embedded-server';
import type { ServerProcess } from '../helpers/server-process';
import { killHard, spawnServer } from '../helpers/server-process';
import { WorkflowApp, waitForRunState } from '../helpers/workflow-app';

describe('Upstash Workflow crash recovery (kill -9)', () => {
  let dataDir: string;
  let server: ServerProcess | undefined;
  let app: WorkflowApp | undefined;

  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'sqstash-workflow-crash-'));
  });
  afterEach(async () => {
    await app?.stop();
    if (server && server.child.exitCode === null) await killHard(server);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('completes a run that was sleeping when the server was killed, each step once', async () => {
    // Prepare: the restarted server listens on the port of the first, so the app (which
    // outlives both) reaches it at the same URL.
    server = await spawnServer({ SQSTASH_DATA_DIR: dataDir });
    const port = new URL(server.url).port;
    const counts = { before: 0, after: 0 };
    app = await WorkflowApp.start(server.url, {
      '/durable': {
        route: async (context) => {
          await context.run('before', () => {
            counts.before += 1;
          });
          await context.sleep('nap', 2);
          await context.run('after', () => {
            counts.after += 1;
          });
          return 'woke up';
        },
      },
    });
    const client = new WorkflowClient({ baseUrl: server.url, token: DEV_TOKEN });
    const { workflowRunId } = await client.trigger({ url: `${app.url}/durable` });
    // The run sleeps: every delivery so far has settled, and the one message in progress is
    // the sleep's, waiting for its time (a kill mid-attempt would repeat that attempt).
    await eventually(async () => {
      const [run] = (await client.logs({ workflowRunId })).runs;
      const next = run?.steps.find((group) => group.type === 'next')?.steps ?? [];
      const finished = run?.steps.flatMap((group) => (group.type === 'next' ? [] : group.steps));
      expect(finished?.map((step) => step.stepName)).toEqual(['init', 'before']);
      expect(next).toHaveLength(1);
      expect(finished?.map((step) => step.messageId)).not.toContain(next[0]!.messageId);
    });

    // Act: kill the server during the sleep and start it again on the same data.
    await killHard(server);
    server = await spawnServer({ SQSTASH_DATA_DIR: dataDir, PORT: port });

    // Assess
    const log = await waitForRunState(client, workflowRunId, 'RUN_SUCCESS', 30_000);
    expect(log.workflowRunResponse).toBe('"woke up"');
    expect(counts).toEqual({ before: 1, after: 1 });
  }, 60_000);
});
