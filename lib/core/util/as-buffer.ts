// The module binding, not the global: Node's global `Buffer` is an accessor, a getter call per use.
import { Buffer } from 'node:buffer';

/**
 * A `Buffer` view of bytes without copying: a `Buffer` as is, any other `Uint8Array` wrapped over
 * the same memory. The one copy every layer uses.
 *
 * @internal
 */
export function asBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}
