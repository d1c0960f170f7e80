import { describe, expect, it } from 'vitest';
import { maxHeadBytes, parseResponse } from './http-response';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

/** The answer in text (which must end where the text does), or the error reason. */
function parsed(text: string): { status: number; location: string | undefined; close: boolean; body: string } | string {
  const r = parseResponse(b(text));
  if (r.type !== 'response') return r.type === 'error' ? r.reason : r.type;
  expect(r.end).toBe(text.length);
  return { status: r.status, location: r.location, close: r.close, body: r.body.toString('latin1') };
}

const ok = 'HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n{"ok":true}';
const chunked = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{"ok"\r\n6;ext=1\r\n:true}\r\n0\r\n\r\n';

describe('parseResponse', () => {
  it.each([
    ['content-length', ok, { status: 200, location: undefined, close: false, body: '{"ok":true}' }],
    ['chunked', chunked, { status: 200, location: undefined, close: false, body: '{"ok":true}' }],
    [
      'chunked with trailers',
      'HTTP/1.1 200 OK\r\ntransfer-encoding: Chunked\r\n\r\n2\r\nab\r\n0\r\nX-T: 1\r\n\r\n',
      { status: 200, location: undefined, close: false, body: 'ab' },
    ],
    [
      'redirect, header names in any case',
      'HTTP/1.1 307 Temporary Redirect\r\nLOCATION:  http://127.0.0.1:2/kv/k \r\ncontent-length: 0\r\n\r\n',
      { status: 307, location: 'http://127.0.0.1:2/kv/k', close: false, body: '' },
    ],
    [
      'connection: close',
      'HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\nContent-Length: 0\r\n\r\n',
      { status: 200, location: undefined, close: true, body: '' },
    ],
    [
      'HTTP/1.0 closes by default',
      'HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n',
      { status: 200, location: undefined, close: true, body: '' },
    ],
    ['204 has no body', 'HTTP/1.1 204 No Content\r\n\r\n', { status: 204, location: undefined, close: false, body: '' }],
    ['no length', 'HTTP/1.1 200 OK\r\n\r\nrest', 'no_content_length'],
    ['gzip coding', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n', 'unsupported_transfer_encoding'],
    ['two lengths', 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab', 'bad_content_length'],
    ['bad chunk size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', 'bad_chunk_size'],
    ['chunk without its CRLF', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n', 'bad_chunk_end'],
    ['not HTTP', 'SSH-2.0-OpenSSH\r\n\r\n', 'bad_status_line'],
  ])('%s', (_, text, expected) => {
    expect(parsed(text)).toEqual(expected);
  });

  it('every proper prefix is incomplete and the whole is complete', () => {
    for (const text of [ok, chunked]) {
      for (let cut = 0; cut < text.length; cut++) expect(parseResponse(b(text.slice(0, cut))).type).toBe('incomplete');
      expect(parseResponse(b(text)).type).toBe('response');
    }
  });

  it('parses several answers from one buffer, each from its offset', () => {
    const buf = b(`HTTP/1.1 100 Continue\r\n\r\n${ok}${chunked}`);
    const first = parseResponse(buf);
    expect(first).toMatchObject({ type: 'response', status: 100, end: 25 });
    const second = parseResponse(buf, 25);
    expect(second).toMatchObject({ type: 'response', status: 200, end: 25 + ok.length });
    const third = parseResponse(buf, 25 + ok.length);
    expect(third).toMatchObject({ type: 'response', status: 200, end: buf.length });
  });

  it('refuses a head that never ends', () => {
    expect(parseResponse(b(`HTTP/1.1 200 OK\r\nX: ${'y'.repeat(maxHeadBytes)}`))).toEqual({ type: 'error', reason: 'head_too_large' });
  });
});
