import type { Deserializer, Serializer } from '@nestjs/microservices';

/**
 * Turns one message body (request data, event data, a reply value or an error) into bytes.
 * Return a string (sent as UTF-8), bytes, or `undefined` for "no value" (an empty body). Must be
 * synchronous: the transport serializes on the hot path.
 */
export type StormSerializer = Serializer<unknown, string | Uint8Array | undefined>;

/**
 * Turns the bytes of a non-empty message body back into a value. Must be synchronous. An empty
 * body always means `undefined` and never reaches the deserializer.
 */
export type StormDeserializer = Deserializer<Buffer, unknown>;

/**
 * The default body serializer: JSON text. `undefined` (and functions) become an empty body.
 *
 * @example
 * new StormTransport({ port: 4000, serializer: new JsonBodySerializer() }); // the default
 */
export class JsonBodySerializer implements StormSerializer {
  serialize(value: unknown): string | undefined {
    return JSON.stringify(value);
  }
}

/** The default body deserializer: parses UTF-8 JSON text. */
export class JsonBodyDeserializer implements StormDeserializer {
  deserialize(body: Buffer): unknown {
    return JSON.parse(body.toString('utf8'));
  }
}
