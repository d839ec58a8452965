import { profilingFlags } from '../../lambdas/embedded/delivery-thread';

describe('the flags the delivery thread is started with', () => {
  it('are the profiler flags of the process, and none of its others', () => {
    // Arrange: what `node --cpu-prof --cpu-prof-dir=... --import tsx` runs with.
    const execArgv = [
      '--cpu-prof',
      '--cpu-prof-dir=/tmp/profiles',
      '--cpu-prof-interval=500',
      '--import',
      'tsx',
      '--heap-prof',
      '--max-old-space-size=512',
      '--cpu-profile',
    ];

    // Act
    const flags = profilingFlags(execArgv);

    // Assess
    expect(flags).toEqual([
      '--cpu-prof',
      '--cpu-prof-dir=/tmp/profiles',
      '--cpu-prof-interval=500',
      '--heap-prof',
    ]);
  });

  it('are none when the process is not profiled', () => {
    expect(profilingFlags(['--import', 'tsx', '--enable-source-maps'])).toEqual([]);
  });
});
