// V8 flags for the workerd processes Miniflare starts.
//
// workerd takes V8 flags from its configuration (the `v8Flags` field of the
// root `Config` struct in workerd.capnp), and Miniflare, which builds that
// configuration, has no option for them. Miniflare hands the configuration to
// workerd as one binary Cap'n Proto message written to its stdin. So, in the
// process that runs Miniflare, `useWorkerdV8Flags()` wraps
// `child_process.spawn`: when it starts `workerd serve --binary ... -`, the
// message written to its stdin gets the flags added on the way.
//
// Why it matters (the measurements are in docs/benchmarks.md):
// - V8's default young generation lets each busy node hold much garbage
//   between scavenges, and each scavenge of a full semi-space is a pause that
//   shows in the p99 latency; small semi-spaces keep memory and pauses small.
// - Scavenging that small a space on helper threads costs more in thread
//   wake-ups than it saves when a few cores run several nodes: scavenging on
//   the main thread lowers the CPU per write.
// - No TurboFan (V8's optimizing compiler; Maglev, the mid tier, still
//   runs): the flag came in because shared calls into the node
//   (worker/front/coalesce.ts) once failed under TurboFan; they no longer do
//   (docs/turbofan-context.md), so it stays only as long as the measurements
//   there favour it.
// - `gc` exposed to the Worker: a node that falls quiet after a burst runs
//   one full collection itself, which gives back the heap the burst grew
//   (worker/adapters/idle-collect.ts). Nothing else calls it.
//
// The patch follows the Cap'n Proto encoding spec
// (https://capnproto.org/encoding.html): the flags go into a new segment
// appended to the message (a list of text pointers and the texts), and the
// root struct's v8Flags pointer becomes a far pointer to it. Nothing of
// Miniflare's own message is moved or rewritten except that one pointer and
// the segment table.
import childProcess from 'node:child_process';
import type { Writable } from 'node:stream';
import { UsageError } from '../common/args';

/** The v8Flags field is pointer number 2 of workerd's root Config struct (services, sockets, v8Flags, ...). */
const v8FlagsPointerIndex = 2;

/** The flags the launcher gives every node unless told otherwise. */
export const defaultV8Flags: readonly string[] = ['--max-semi-space-size=1', '--no-parallel-scavenge', '--no-turbofan', '--expose-gc'];

/**
 * "--a --b=1" -> ['--a', '--b=1']; "" -> [] (no flags). Each flag must look
 * like a V8 flag; workerd itself refuses to start with one V8 does not know,
 * and says which.
 */
export function parseV8Flags(what: string, text: string): string[] {
  const flags = text.split(/\s+/).filter((f) => f !== '');
  for (const f of flags) {
    if (!/^--?[A-Za-z][A-Za-z0-9_-]*(=[^\s]+)?$/.test(f))
      throw new UsageError(`${what}: "${f}" is not a V8 flag like --max-semi-space-size=1`);
  }
  return flags;
}

class CapnpError extends Error {
  constructor(message: string) {
    super(`workerd config message: ${message}`);
  }
}

interface Segments {
  /** Byte offset of each segment in the message. */
  starts: number[];
  /** Size of each segment, in 8-byte words. */
  words: number[];
}

function readSegments(msg: Uint8Array): Segments {
  const view = new DataView(msg.buffer, msg.byteOffset, msg.byteLength);
  if (msg.byteLength < 8) throw new CapnpError('too short');
  const count = view.getUint32(0, true) + 1;
  const headerBytes = align8(4 + 4 * count);
  if (count > 512 || headerBytes > msg.byteLength) throw new CapnpError(`implausible segment count ${count}`);
  const starts: number[] = [];
  const words: number[] = [];
  let at = headerBytes;
  for (let i = 0; i < count; i++) {
    const w = view.getUint32(4 + 4 * i, true);
    starts.push(at);
    words.push(w);
    at += w * 8;
  }
  if (at !== msg.byteLength) throw new CapnpError(`segment table says ${at} bytes, message has ${msg.byteLength}`);
  return { starts, words };
}

function align8(n: number): number {
  return (n + 7) & ~7;
}

/** A pointer word as read: where it lies (segment, word index) and its two halves. */
interface PointerWord {
  segment: number;
  word: number;
  lo: number;
  hi: number;
}

/**
 * Reads the pointer at (segment, word); if it is a (single) far pointer,
 * reads the landing pad it names instead, whose offset is relative to itself.
 */
function readPointer(view: DataView, seg: Segments, segment: number, word: number): PointerWord {
  const at = (sg: number, w: number): PointerWord => {
    const byte = seg.starts[sg]! + w * 8;
    return { segment: sg, word: w, lo: view.getUint32(byte, true), hi: view.getUint32(byte + 4, true) };
  };
  const p = at(segment, word);
  if ((p.lo & 3) !== 2) return p;
  if (p.lo & 4) throw new CapnpError('double-far pointers are not supported');
  if (p.hi >= seg.starts.length) throw new CapnpError(`far pointer to missing segment ${p.hi}`);
  return at(p.hi, p.lo >>> 3);
}

/** Where the root struct starts (segment, word index) and the sizes of its sections. */
function rootStruct(msg: Uint8Array, seg: Segments): { segment: number; dataWords: number; pointerWords: number; start: number } {
  const view = new DataView(msg.buffer, msg.byteOffset, msg.byteLength);
  const p = readPointer(view, seg, 0, 0);
  if ((p.lo & 3) !== 0) throw new CapnpError('root pointer is not a struct pointer');
  const dataWords = p.hi & 0xffff;
  const pointerWords = p.hi >>> 16;
  const start = p.word + 1 + (p.lo >> 2); // the offset is signed
  if (start < 0 || start + dataWords + pointerWords > seg.words[p.segment]!) throw new CapnpError('root struct lies outside its segment');
  return { segment: p.segment, dataWords, pointerWords, start };
}

/**
 * Returns a copy of a workerd Config message whose v8Flags field is `flags`
 * (replacing any it had). Throws if the message is not what workerd expects.
 */
export function withV8Flags(message: Uint8Array, flags: readonly string[]): Buffer {
  const seg = readSegments(message);
  const root = rootStruct(message, seg);
  if (root.pointerWords <= v8FlagsPointerIndex)
    throw new CapnpError(`root struct has ${root.pointerWords} pointers, v8Flags is number ${v8FlagsPointerIndex}`);

  // The new segment: a landing pad, one list pointer per flag, then the texts.
  const texts = flags.map((f) => Buffer.from(`${f}\0`, 'utf8'));
  const textWords = texts.map((t) => align8(t.byteLength) / 8);
  const newWords = 1 + flags.length + textWords.reduce((a, b) => a + b, 0);
  const extra = Buffer.alloc(newWords * 8);
  // Landing pad: a list of pointers (element size 6) starting right after it.
  writePointer(extra, 0, (0 << 2) | 1, (flags.length << 3) | 6);
  let textAt = 1 + flags.length;
  for (const [i, t] of texts.entries()) {
    const pointerAt = 1 + i;
    // A list of bytes (element size 2); the offset counts from the end of the pointer.
    writePointer(extra, pointerAt, ((textAt - pointerAt - 1) << 2) | 1, (t.byteLength << 3) | 2);
    t.copy(extra, textAt * 8);
    textAt += textWords[i]!;
  }

  const count = seg.starts.length + 1;
  const headerBytes = align8(4 + 4 * count);
  const out = Buffer.alloc(headerBytes + (message.byteLength - seg.starts[0]!) + extra.byteLength);
  out.writeUInt32LE(count - 1, 0);
  for (const [i, w] of seg.words.entries()) out.writeUInt32LE(w, 4 + 4 * i);
  out.writeUInt32LE(newWords, 4 + 4 * seg.words.length);
  Buffer.from(message.buffer, message.byteOffset + seg.starts[0]!, message.byteLength - seg.starts[0]!).copy(out, headerBytes);
  extra.copy(out, out.byteLength - extra.byteLength);

  // The root's v8Flags pointer becomes a far pointer to the landing pad (word 0 of the new segment).
  const shift = headerBytes - seg.starts[0]!;
  const slot = seg.starts[root.segment]! + shift + (root.start + root.dataWords + v8FlagsPointerIndex) * 8;
  out.writeUInt32LE((0 << 3) | 2, slot);
  out.writeUInt32LE(count - 1, slot + 4);
  return out;
}

function writePointer(buf: Buffer, word: number, lo: number, hi: number): void {
  buf.writeUInt32LE(lo >>> 0, word * 8);
  buf.writeUInt32LE(hi >>> 0, word * 8 + 4);
}

/** Reads the v8Flags field of a workerd Config message (for tests and diagnostics). */
export function readV8Flags(message: Uint8Array): string[] {
  const seg = readSegments(message);
  const root = rootStruct(message, seg);
  if (root.pointerWords <= v8FlagsPointerIndex) return [];
  const view = new DataView(message.buffer, message.byteOffset, message.byteLength);
  // Resolves the pointer at (segment, word) to the list it points at.
  const list = (segment: number, word: number): { segment: number; start: number; size: number; count: number } | null => {
    const p = readPointer(view, seg, segment, word);
    if (p.lo === 0 && p.hi === 0) return null;
    if ((p.lo & 3) !== 1) throw new CapnpError('expected a list pointer');
    return { segment: p.segment, start: p.word + 1 + (p.lo >> 2), size: p.hi & 7, count: p.hi >>> 3 };
  };
  const flags = list(root.segment, root.start + root.dataWords + v8FlagsPointerIndex);
  if (flags === null) return [];
  if (flags.size !== 6) throw new CapnpError('v8Flags is not a list of pointers');
  const out: string[] = [];
  for (let i = 0; i < flags.count; i++) {
    const text = list(flags.segment, flags.start + i);
    if (text === null) {
      out.push('');
      continue;
    }
    if (text.size !== 2 || text.count === 0) throw new CapnpError('a v8Flags element is not text');
    const from = seg.starts[text.segment]! + text.start * 8;
    out.push(Buffer.from(message.buffer, message.byteOffset + from, text.count - 1).toString('utf8'));
  }
  return out;
}

/**
 * Kept on globalThis, not in module variables: a test runner may load this
 * module afresh for each test file in one process, and child_process (which
 * is wrapped) is the same object for all of them. One wrapper, one setting.
 */
interface HookState {
  flags: readonly string[];
  hooked: boolean;
  /** pid of each workerd started -> the flags it was given. */
  given: Map<number, readonly string[]>;
}
const stateKey = Symbol.for('raft-kv.workerd-v8-flags');
const hookState = ((globalThis as Record<symbol, unknown>)[stateKey] ??= { flags: [], hooked: false, given: new Map() }) as HookState;

/** The V8 flags the workerd with this pid was started with, if this process started it (diagnostics, tests). */
export function v8FlagsGiven(pid: number): readonly string[] | undefined {
  return hookState.given.get(pid);
}

/** A `workerd serve --binary ... -` command: the one Miniflare runs, reading its config from stdin. */
function isWorkerdServe(command: unknown, args: unknown): boolean {
  if (typeof command !== 'string' || !Array.isArray(args)) return false;
  return args[0] === 'serve' && args.includes('--binary') && args[args.length - 1] === '-';
}

/**
 * From now on, every workerd that Miniflare starts in this process gets these
 * V8 flags (an empty list: none). Process-wide: the last call wins.
 */
export function useWorkerdV8Flags(flags: readonly string[]): void {
  hookState.flags = [...flags];
  if (hookState.hooked) return;
  hookState.hooked = true;
  const spawn = childProcess.spawn;
  const wrapped = function (this: unknown, ...args: Parameters<typeof spawn>) {
    const child = spawn.apply(this, args);
    const flags = hookState.flags;
    if (!isWorkerdServe(args[0], args[1])) return child;
    if (child.pid !== undefined) {
      hookState.given.set(child.pid, flags);
      child.once('exit', () => hookState.given.delete(child.pid!));
    }
    if (flags.length > 0 && child.stdin) patchFirstWrite(child.stdin, flags);
    return child;
  };
  childProcess.spawn = wrapped as typeof spawn;
}

/** Rewrites the first chunk written to `stdin`: Miniflare writes the whole config message at once. */
function patchFirstWrite(stdin: Writable, flags: readonly string[]): void {
  // eslint-disable-next-line @typescript-eslint/unbound-method -- put back as stdin's own method below, never called detached
  const write = stdin.write;
  stdin.write = function (this: Writable, chunk: unknown, ...rest: unknown[]): boolean {
    stdin.write = write;
    if (!(chunk instanceof Uint8Array)) throw new CapnpError('expected Miniflare to write one binary message');
    return (write as (c: unknown, ...r: unknown[]) => boolean).call(this, withV8Flags(chunk, flags), ...rest);
  } as typeof stdin.write;
}
