// Reading a request body with a size cap. The cap is enforced while the bytes
// arrive, so a client cannot make the Worker buffer more than the limit even
// without a Content-Length header.
import type { Parsed } from './schemas';

/** Fatal: invalid UTF-8 is refused, not replaced. ignoreBOM keeps a leading U+FEFF as part of a raw value. */
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * The body as text, or a 4xx. A body the runtime cannot deliver (a malformed
 * chunk size, a connection cut mid-body) is the client's framing problem, so
 * it is a 400 rather than an internal error.
 */
export async function readBodyText(req: Request, maxBytes: number): Promise<Parsed<string>> {
  try {
    return await readCapped(req, maxBytes);
  } catch {
    return {
      ok: false,
      error: 'bad_request',
      message: 'the request body could not be read (malformed chunked encoding, or the connection broke mid-body)',
    };
  }
}

async function readCapped(req: Request, maxBytes: number): Promise<Parsed<string>> {
  const declared = req.headers.get('Content-Length');
  if (declared !== null && Number(declared) > maxBytes) return tooLarge(maxBytes);
  if (req.body === null) return { ok: true, value: '' };
  // With a declared length within the limit, the HTTP layer delivers exactly
  // that many bytes, so one native read replaces the chunk loop below.
  if (declared !== null) {
    const bytes = new Uint8Array(await req.arrayBuffer());
    return bytes.byteLength > maxBytes ? tooLarge(maxBytes) : decode(bytes);
  }

  const reader = req.body.getReader() as ReadableStreamDefaultReader<Uint8Array>;
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      return tooLarge(maxBytes);
    }
    chunks.push(value);
  }

  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return decode(bytes);
}

function decode(bytes: Uint8Array): Parsed<string> {
  try {
    return { ok: true, value: utf8.decode(bytes) };
  } catch {
    return { ok: false, error: 'bad_request', message: 'body is not valid UTF-8' };
  }
}

function tooLarge(maxBytes: number): Parsed<never> {
  return { ok: false, error: 'payload_too_large', message: `body is larger than the limit of ${maxBytes} bytes` };
}
