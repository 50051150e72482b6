/**
 * A `Buffer` view of bytes without copying: a `Buffer` as is, any other `Uint8Array` wrapped over
 * the same memory. The one copy every layer uses.
 *
 * @internal
 */
export function asBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}
