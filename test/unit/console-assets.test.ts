import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { consoleAssets } from '../../lambdas/embedded/console-assets';
import type { ApiRequest } from '../../lambdas/http/api-types';

const request = (method: string, path: string): ApiRequest => ({
  method,
  path,
  rawQuery: '',
  headers: {},
  body: new Uint8Array(),
});

describe('consoleAssets', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sqstash-console-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the built page, script and style with a strict policy, and nothing else', () => {
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>x</title>');
    writeFileSync(join(dir, 'console.js'), 'console.log(1)');
    writeFileSync(join(dir, 'console.css'), 'body{}');
    const serve = consoleAssets(dir);

    const page = serve(request('GET', '/'));
    expect(page).toMatchObject({ status: 200, body: '<!doctype html><title>x</title>' });
    expect(page?.headers).toMatchObject({
      'content-type': 'text/html; charset=utf-8',
      'x-content-type-options': 'nosniff',
      'content-security-policy': expect.stringContaining("default-src 'none'"),
    });
    expect(serve(request('GET', '/console.js'))?.headers?.['content-type']).toBe(
      'text/javascript; charset=utf-8',
    );
    expect(serve(request('HEAD', '/console.css'))?.body).toBe('body{}');
    expect(serve(request('POST', '/'))).toBeUndefined();
    expect(serve(request('GET', '/v2/queues'))).toBeUndefined();
    expect(serve(request('GET', '/../package.json'))).toBeUndefined();
  });

  it('says how to build the console when it is not built', () => {
    const answer = consoleAssets(dir)(request('GET', '/'));

    expect(answer?.status).toBe(503);
    expect(answer?.body).toContain('npm run build:console');
  });
});
