import { describe, expect, it } from 'vitest';
import { parseFlags, parseIntIn, parseOneOf, UsageError } from './args';

const spec = { port: { type: 'string' }, json: { type: 'boolean' }, mix: { type: 'string', multiple: true } } as const;

describe('parseFlags', () => {
  it('reads --name value, --name=value, booleans, repeated multiple flags, and words after --', () => {
    const r = parseFlags(['--port', '80', '--json', '--mix=a', '--mix', 'b', 'x', '--', '--y'], spec, true);
    expect(r.values).toEqual({ port: '80', json: true, mix: ['a', 'b'] });
    expect(r.positionals).toEqual(['x', '--y']);
  });

  it.each([
    [['--bogus'], /^unknown option --bogus$/],
    [['--port'], /^option --port needs a value$/],
    [['--port', '--json'], /^option --port needs a value/],
    [['--json=1'], /^option --json takes no value$/],
    [['--port', '1', '--port=2'], /^option --port given twice$/],
    [['stray'], /^unexpected argument "stray"$/],
  ])('%j is a usage error', (argv, message) => {
    expect(() => parseFlags(argv, spec)).toThrow(UsageError);
    expect(() => parseFlags(argv, spec)).toThrow(message);
  });
});

describe('value parsers', () => {
  it('name the flag and the value they refuse', () => {
    expect(parseIntIn('--nodes', '3', 1, 9)).toBe(3);
    expect(() => parseIntIn('--nodes', '3.5', 1, 9)).toThrow('--nodes must be an integer from 1 to 9, got "3.5"');
    expect(parseOneOf('--mode', 'process', ['inprocess', 'process'])).toBe('process');
    expect(() => parseOneOf('--mode', 'x', ['inprocess', 'process'])).toThrow('--mode must be one of inprocess|process, got "x"');
  });
});
