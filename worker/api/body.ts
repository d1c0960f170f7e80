// Reading a request body with a size cap. The cap is enforced while the bytes
// arrive, so a client cannot make the Worker buffer more than the limit even
// without a Content-Length header.
import type { Parsed } from './schemas';

export async function readBodyText(req: Request, maxBytes: number): Promise<Parsed<string>> {
  const declared = req.headers.get('Content-Length');
  if (declared !== null && Number(declared) > maxBytes) return tooLarge(maxBytes);
  if (req.body === null) return { ok: true, value: '' };

  const reader = req.body.getReader();
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
  try {
    // ignoreBOM keeps a leading U+FEFF as part of a raw value instead of eating it.
    return { ok: true, value: new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes) };
  } catch {
    return { ok: false, error: 'bad_request', message: 'body is not valid UTF-8' };
  }
}

function tooLarge(maxBytes: number): Parsed<never> {
  return { ok: false, error: 'payload_too_large', message: `body is larger than the limit of ${maxBytes} bytes` };
}
