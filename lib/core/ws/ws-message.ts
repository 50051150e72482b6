import { StormError, StormErrorCode } from '../errors.js';

/**
 * One WebSocket message as handed to `message` listeners (seed: `WsMessage`).
 *
 * @example
 * server.on('message', (session, msg) => (msg.isText ? session.sendText(msg.text) : session.send(msg.data)));
 */
export class WsMessage {
  constructor(
    /** The payload; UTF-8 for text messages. */
    readonly data: Buffer,
    /** Whether it arrived as a text message. */
    readonly isText: boolean,
  ) {}

  /** The payload decoded as UTF-8. Throws for binary messages. */
  get text(): string {
    if (!this.isText) throw new StormError(StormErrorCode.NotText, 'WsMessage.text: the message is binary; read msg.data instead');
    return this.data.toString('utf8');
  }

  /** The payload as text for text messages, otherwise the bytes. */
  get value(): string | Buffer {
    return this.isText ? this.data.toString('utf8') : this.data;
  }
}
