import type { FrameDecoder, FrameWriter, MessageFramer } from './message-framer.js';

const rawDecoder: FrameDecoder = {
  push(chunk, onMessage) {
    if (chunk.length > 0) onMessage(chunk);
  },
  bufferedBytes: 0,
};

/**
 * No framing: every chunk read from the socket is one message and payloads are written as they
 * are. For byte streams whose protocol has its own framing, or none.
 *
 * @example
 * new StormTcpServer({ port: 7, framer: new RawFramer() });
 */
export class RawFramer implements MessageFramer {
  readonly maxMessageSize = undefined;

  createDecoder(): FrameDecoder {
    return rawDecoder;
  }

  encode(payload: Uint8Array, out: FrameWriter): void {
    out.write(payload);
  }
}
