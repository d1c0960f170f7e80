// The longevity benchmark's options (the run itself starts a cluster:
// `npm run bench -- --longevity --writes 100000`).
import { describe, expect, it } from 'vitest';
import { parseLongevityOptions } from './options';

describe('longevity options', () => {
  it('defaults to the figures issue 16 names', () => {
    expect(parseLongevityOptions(['--longevity'])).toMatchObject({
      writes: 1_000_000,
      clients: 64,
      valueSize: 100,
      keys: 10_000,
      sampleEvery: 100_000,
      client: 'raw',
    });
  });

  it('takes the thresholds the nodes run with', () => {
    expect(
      parseLongevityOptions(['--longevity', '--writes', '2000', '--sample-every', '500', '--snapshot-every', '100', '--log-retain', '0']),
    ).toMatchObject({
      writes: 2000,
      sampleEvery: 500,
      snapshotEvery: 100,
      logRetain: 0,
    });
  });

  it('--fill writes each key once and reads back; --catch-up and --no-restart', () => {
    expect(parseLongevityOptions(['--fill', '--keys', '1000000', '--value-size', '1024'])).toMatchObject({
      fill: true,
      writes: 1_000_000,
      keys: 1_000_000,
      valueSize: 1024,
      sampleEvery: 100_000,
      reads: 10_000,
      restart: true,
    });
    expect(parseLongevityOptions(['--fill', '--keys', '5000'])).toMatchObject({ writes: 5000, sampleEvery: 5000 });
    expect(parseLongevityOptions(['--fill', '--keys', '1000', '--first-key', '400', '--resume', '/tmp/x'])).toMatchObject({
      writes: 600,
      firstKey: 400,
      resume: '/tmp/x',
    });
    expect(parseLongevityOptions(['--catch-up', '--writes', '200000', '--no-restart'])).toMatchObject({
      catchUp: true,
      writes: 200_000,
      restart: false,
      reads: 0,
      pollMs: 1000,
    });
  });

  it.each([
    [['--poll-ms', '10'], /--poll-ms must be an integer from 50/],
    [['--fill', '--keys', '100', '--first-key', '60', '--writes', '50'], /--first-key 60 \+ --writes 50 is more than --keys 100/],
    [['--first-key', '5'], /--first-key goes with --fill/],
    [['--writes', '0'], /--writes must be an integer from 1/],
    [['--writes', '10', '--sample-every', '100'], /--sample-every 100 is more than --writes 10/],
    [['--snapshot-every', '0'], /--snapshot-every must be an integer from 1/],
    [['--client', 'curl'], /--client must be one of client\|http\|raw/],
    [['--duration', '5'], /unknown option --duration/],
  ])('refuses %j', (argv, message) => {
    expect(() => parseLongevityOptions(argv)).toThrow(message);
  });
});
