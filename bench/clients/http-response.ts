// Parsing one HTTP/1.1 response out of the bytes received so far, for the raw
// load client (raw-client.ts). Pure: the caller keeps the bytes and calls
// again when more arrive. Framing follows RFC 9112 §6.3: no body for 1xx, 204
// and 304; chunked Transfer-Encoding wins over Content-Length; a response
// framed only by closing the connection is refused (our server always sends a
// length, and reading to EOF would hide a truncated answer).

export type ParsedResponse =
  | { type: 'incomplete' }
  | { type: 'error'; reason: string }
  | {
      type: 'response';
      status: number;
      location: string | undefined;
      /** The server will close the connection after this response. */
      close: boolean;
      body: Buffer;
      /** Offset just past this response in the buffer. */
      end: number;
    };

/** Past this many bytes without the end of the headers, the answer is refused. */
export const maxHeadBytes = 64 * 1024;

const incomplete: ParsedResponse = { type: 'incomplete' };
const fail = (reason: string): ParsedResponse => ({ type: 'error', reason });

export function parseResponse(buf: Buffer, start = 0): ParsedResponse {
  const headEnd = buf.indexOf('\r\n\r\n', start, 'latin1');
  if (headEnd < 0) return buf.length - start > maxHeadBytes ? fail('head_too_large') : incomplete;
  const lines = buf.toString('latin1', start, headEnd).split('\r\n');
  const statusLine = /^HTTP\/1\.([01]) (\d{3})(?: |$)/.exec(lines[0]!);
  if (!statusLine) return fail('bad_status_line');
  const http10 = statusLine[1] === '0';
  const status = Number(statusLine[2]);

  let contentLength: number | undefined;
  let transferEncoding: string | undefined;
  let connection = '';
  let location: string | undefined;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(':');
    if (colon <= 0) return fail('bad_header_line');
    const name = line.slice(0, colon).toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'content-length') {
      if (!/^\d+$/.test(value) || (contentLength !== undefined && contentLength !== Number(value))) return fail('bad_content_length');
      contentLength = Number(value);
    } else if (name === 'transfer-encoding') {
      transferEncoding = transferEncoding === undefined ? value.toLowerCase() : `${transferEncoding}, ${value.toLowerCase()}`;
    } else if (name === 'connection') {
      connection += `,${value.toLowerCase()}`;
    } else if (name === 'location') {
      location = value;
    }
  }
  const tokens = connection.split(',').map((t) => t.trim());
  const close = http10 ? !tokens.includes('keep-alive') : tokens.includes('close');
  const bodyStart = headEnd + 4;

  if ((status >= 100 && status < 200) || status === 204 || status === 304) {
    return { type: 'response', status, location, close, body: Buffer.alloc(0), end: bodyStart };
  }
  if (transferEncoding !== undefined) {
    // We send no TE or Accept-Encoding, so chunked is the only coding a server may use.
    if (transferEncoding !== 'chunked') return fail('unsupported_transfer_encoding');
    const chunked = parseChunked(buf, bodyStart);
    if (chunked.type !== 'done') return chunked.type === 'incomplete' ? incomplete : fail(chunked.reason);
    return { type: 'response', status, location, close, body: chunked.body, end: chunked.end };
  }
  if (contentLength === undefined) return fail('no_content_length');
  const end = bodyStart + contentLength;
  if (buf.length < end) return incomplete;
  return { type: 'response', status, location, close, body: buf.subarray(bodyStart, end), end };
}

type Chunked = { type: 'done'; body: Buffer; end: number } | { type: 'incomplete' } | { type: 'error'; reason: string };

/** RFC 9112 §7.1: size line (hex, optional ;extensions), data, CRLF; a 0 size, trailers, then an empty line. */
function parseChunked(buf: Buffer, from: number): Chunked {
  const parts: Buffer[] = [];
  let pos = from;
  for (;;) {
    const lineEnd = buf.indexOf('\r\n', pos, 'latin1');
    if (lineEnd < 0) return buf.length - pos > 1024 ? { type: 'error', reason: 'bad_chunk_size' } : { type: 'incomplete' };
    const sizeText = buf.toString('latin1', pos, lineEnd).split(';')[0]!.trim();
    if (!/^[0-9a-fA-F]{1,8}$/.test(sizeText)) return { type: 'error', reason: 'bad_chunk_size' };
    const size = parseInt(sizeText, 16);
    pos = lineEnd + 2;
    if (size === 0) {
      // Trailers (ignored) end with an empty line: either right here, or after the trailer fields.
      if (buf.length < pos + 2) return { type: 'incomplete' };
      if (buf[pos] === 0x0d && buf[pos + 1] === 0x0a) return { type: 'done', body: Buffer.concat(parts), end: pos + 2 };
      const trailersEnd = buf.indexOf('\r\n\r\n', pos, 'latin1');
      if (trailersEnd < 0) return { type: 'incomplete' };
      return { type: 'done', body: Buffer.concat(parts), end: trailersEnd + 4 };
    }
    if (buf.length < pos + size + 2) return { type: 'incomplete' };
    if (buf[pos + size] !== 0x0d || buf[pos + size + 1] !== 0x0a) return { type: 'error', reason: 'bad_chunk_end' };
    parts.push(buf.subarray(pos, pos + size));
    pos += size + 2;
  }
}
