// The registry and its text-format renderer, read back with an independent
// parser (parse-prometheus-text-format) rather than by pattern matching.
import { describe, expect, it } from 'vitest';
import parse from 'parse-prometheus-text-format';
import { exponentialBuckets, Registry, renderPrometheus } from './registry';

describe('metrics registry', () => {
  it('renders counters, gauges and histograms that a Prometheus parser reads back', () => {
    const reg = new Registry();
    const c = reg.counter('x_requests_total', 'Requests.\nSecond line with a \\ backslash.', ['outcome']);
    const g = reg.gauge('x_temperature', 'Now.');
    const h = reg.histogram('x_duration_seconds', 'How long.', [0.1, 1]);
    c.inc({ outcome: 'ok' }, 3);
    c.inc({ outcome: 'weird "quoted"\nvalue\\' });
    g.set(-2.5);
    h.observe(0.05);
    h.observe(0.5);
    h.observe(7);
    const text = renderPrometheus(reg.collect());
    const parsed = parse(text);
    expect(parsed.map((f) => [f.name, f.type])).toEqual([
      ['x_requests_total', 'COUNTER'],
      ['x_temperature', 'GAUGE'],
      ['x_duration_seconds', 'HISTOGRAM'],
    ]);
    expect(parsed[0]!.help).toBe('Requests.\nSecond line with a \\ backslash.');
    expect(parsed[0]!.metrics).toEqual([
      { value: '3', labels: { outcome: 'ok' } },
      { value: '1', labels: { outcome: 'weird "quoted"\nvalue\\' } },
    ]);
    expect(parsed[1]!.metrics).toEqual([{ value: '-2.5' }]);
    // Buckets are cumulative, with +Inf equal to the count.
    expect(parsed[2]!.metrics).toEqual([{ buckets: { '0.1': '1', '1': '2', '+Inf': '3' }, count: '3', sum: '7.55' }]);
    expect(text.endsWith('\n')).toBe(true);
  });

  // The parser drops the labels of labelled histograms (a bug of its own), so this one is compared as text.
  it('puts le after the other labels of a histogram series, and _sum and _count after its buckets', () => {
    const reg = new Registry();
    const h = reg.histogram('y_seconds', 'How long.', [0.5], ['kind']);
    h.observe(0.25, { kind: 'a' });
    h.observe(2, { kind: 'b' });
    expect(renderPrometheus(reg.collect())).toBe(
      [
        '# HELP y_seconds How long.',
        '# TYPE y_seconds histogram',
        'y_seconds_bucket{kind="a",le="0.5"} 1',
        'y_seconds_bucket{kind="a",le="+Inf"} 1',
        'y_seconds_sum{kind="a"} 0.25',
        'y_seconds_count{kind="a"} 1',
        'y_seconds_bucket{kind="b",le="0.5"} 0',
        'y_seconds_bucket{kind="b",le="+Inf"} 1',
        'y_seconds_sum{kind="b"} 2',
        'y_seconds_count{kind="b"} 1',
        '',
      ].join('\n'),
    );
  });

  it('refuses what Prometheus would reject: bad names, reserved labels, counters going down, duplicates', () => {
    const reg = new Registry();
    expect(() => reg.counter('bad-name', 'x')).toThrow(/bad metric name/);
    expect(() => reg.histogram('h_seconds', 'x', [1], ['le'])).toThrow(/bad label name/);
    expect(() => reg.histogram('h2_seconds', 'x', [1, 1])).toThrow(/increase/);
    const c = reg.counter('c_total', 'x', ['a']);
    expect(() => c.inc({ a: 'y' }, -1)).toThrow(/only goes up/);
    expect(() => c.inc({})).toThrow(/label a missing/);
    expect(() => c.inc({ a: 'y', b: 'z' })).toThrow(/unexpected labels/);
    expect(() => reg.gauge('c_total', 'again')).toThrow(/twice/);
    const f = reg.collect();
    expect(() => renderPrometheus([...f, ...f])).toThrow(/rendered twice/);
  });

  it('builds exponential buckets like Prometheus client libraries', () => {
    expect(exponentialBuckets(0.001, 2, 4)).toEqual([0.001, 0.002, 0.004, 0.008]);
  });
});
