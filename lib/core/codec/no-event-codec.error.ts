import { StormError } from '../errors.js';

/** `emit`/`request` on a session whose server does not speak the event protocol (its codec is not `'json'`). */
export class NoEventCodecError extends StormError {
  constructor(operation: string) {
    super(
      'ERR_STORM_NO_EVENT_CODEC',
      `session.${operation}() needs the event protocol: give the server codec: 'json' (the WebSocket default); ` +
        `with 'raw' or a custom codec, use send()/sendText()`,
    );
  }
}
