import type * as Powertools from '../../../lambdas/aws/powertools';

/** The EMF lines the functions print, with metrics on as deployed. */
function emfLines(run: (powertools: typeof Powertools) => void): Record<string, unknown>[] {
  const written: string[] = [];
  const write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    written.push(String(chunk));
    return true;
  });
  const disabled = process.env.POWERTOOLS_METRICS_DISABLED;
  process.env.POWERTOOLS_METRICS_DISABLED = 'false';
  try {
    jest.isolateModules(() => {
      run(jest.requireActual<typeof Powertools>('../../../lambdas/aws/powertools'));
    });
  } finally {
    process.env.POWERTOOLS_METRICS_DISABLED = disabled;
    write.mockRestore();
  }
  return written
    .flatMap((chunk) => chunk.split('\n'))
    .filter((line) => line.includes('"_aws"'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('the functions’ EMF metrics', () => {
  it('print one line per invocation, one sum per metric, counted through the Telemetry port', () => {
    const lines = emfLines(({ metricsTelemetry, countMetric, publishMetrics }) => {
      const telemetry = metricsTelemetry(countMetric);
      for (let i = 0; i < 10; i += 1) {
        telemetry.attemptSettled({ outcome: 'delivered', kind: 'message', attemptMs: 5 });
      }
      telemetry.attemptSettled({ outcome: 'retry', kind: 'message', attemptMs: 5 });
      telemetry.attemptSettled({ outcome: 'canceled', kind: 'message', attemptMs: 5 });
      telemetry.published(3, 1, 2);
      telemetry.published(0, 2, 2);
      publishMetrics();
    });

    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ Delivered: 10, Retried: 1, Published: 3, service: 'sqstash' });
    expect(lines[0]).not.toHaveProperty('Failed');
  });

  it('print nothing for an invocation that counted nothing', () => {
    expect(emfLines(({ publishMetrics }) => publishMetrics())).toEqual([]);
  });

  it('write at most one line a second, later counts with the time they were first counted', () => {
    const t0 = Date.now();
    const clock = jest.spyOn(Date, 'now');
    const at = (ms: number) => clock.mockReturnValue(t0 + ms);
    const lines = emfLines(({ countMetric, publishMetrics, METRICS_FLUSH_MS }) => {
      at(0);
      countMetric('Published');
      publishMetrics();
      // Two more invocations within the second: their counts wait.
      at(10);
      countMetric('Published', 2);
      publishMetrics();
      at(20);
      countMetric('Delivered');
      publishMetrics();
      at(METRICS_FLUSH_MS + 5);
      publishMetrics();
    });
    clock.mockRestore();

    expect(
      lines.map((line) => [
        line.Published,
        line.Delivered,
        (line._aws as { Timestamp: number }).Timestamp - t0,
      ]),
    ).toEqual([
      [1, undefined, 0],
      [2, 1, 10],
    ]);
  });
});
