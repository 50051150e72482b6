/** WebSocket opcodes of data frames. */
export const OPCODE_TEXT = 0x1;
export const OPCODE_BINARY = 0x2;

/** Size of the header of an unmasked frame carrying `length` payload bytes. */
export function headerSize(length: number): number {
  return length < 126 ? 2 : length < 0x10000 ? 4 : 10;
}

/**
 * Writes the header of a single, final, unmasked frame (what servers send) into `target`.
 * `rsv1` marks a permessage-deflate compressed payload. Returns the header length.
 */
export function writeFrameHeader(target: Buffer, offset: number, opcode: number, length: number, rsv1 = false): number {
  target[offset] = 0x80 | (rsv1 ? 0x40 : 0) | opcode;
  if (length < 126) {
    target[offset + 1] = length;
    return 2;
  }
  if (length < 0x10000) {
    target[offset + 1] = 126;
    target.writeUInt16BE(length, offset + 2);
    return 4;
  }
  target[offset + 1] = 127;
  target.writeUInt32BE(Math.floor(length / 0x1_0000_0000), offset + 2);
  target.writeUInt32BE(length >>> 0, offset + 6);
  return 10;
}

/** Builds one complete unmasked frame (header and payload in one buffer), for writing to many sockets. */
export function encodeFrame(payload: Buffer, isText: boolean, rsv1 = false): Buffer {
  const frame = Buffer.allocUnsafe(headerSize(payload.length) + payload.length);
  const offset = writeFrameHeader(frame, 0, isText ? OPCODE_TEXT : OPCODE_BINARY, payload.length, rsv1);
  payload.copy(frame, offset);
  return frame;
}
