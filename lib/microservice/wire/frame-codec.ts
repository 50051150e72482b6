import { isPromiseLike } from '../../core/util/resolved.js';
import { StormRpcSerializerError } from '../storm-rpc.errors.js';
import { StormRpcProtocolError } from '../storm-rpc.errors.js';
import { JsonBodyDeserializer, JsonBodySerializer, type StormDeserializer, type StormSerializer } from './body-serializers.js';
import { FrameFlags, type FrameKind } from './frame-kind.js';

/** Bytes of the fixed header: kind (1), flags (1), id (4), pattern length (2). */
export const HEADER_SIZE = 8;
/** The longest pattern a frame can carry, in UTF-8 bytes. */
export const MAX_PATTERN_BYTES = 0xffff;
/** The largest correlation id; ids run from 1 to this and wrap around. */
export const MAX_FRAME_ID = 0xffff_ffff;

/** What a serializer produced for one body. */
export type EncodedBody = string | Uint8Array | undefined;

/**
 * The header of a request or event frame for one pattern, with id 0 and no metadata: built once
 * per pattern and copied into every frame for it.
 */
export function patternHeader(kind: FrameKind, pattern: string): Buffer {
  const length = Buffer.byteLength(pattern, 'utf8');
  if (length > MAX_PATTERN_BYTES) {
    throw new StormRpcProtocolError(`The pattern is ${length} UTF-8 bytes long; the wire format allows ${MAX_PATTERN_BYTES}`);
  }
  const header = Buffer.allocUnsafe(HEADER_SIZE + length);
  header[0] = kind;
  header[1] = 0;
  header.writeUInt32BE(0, 2);
  header.writeUInt16BE(length, 6);
  header.write(pattern, HEADER_SIZE, 'utf8');
  return header;
}

function bodyLength(body: EncodedBody): number {
  if (body === undefined) return 0;
  return typeof body === 'string' ? Buffer.byteLength(body, 'utf8') : body.length;
}

function writeBody(frame: Buffer, offset: number, body: EncodedBody): void {
  if (body === undefined) return;
  if (typeof body === 'string') frame.write(body, offset, 'utf8');
  else frame.set(body, offset);
}

/** A request or event frame: `header` from {@link patternHeader}, then optional metadata, then the body. */
export function encodePatternFrame(header: Buffer, id: number, metadata: Buffer | undefined, body: EncodedBody): Buffer {
  const size = bodyLength(body);
  const headerLength = header.length;
  if (metadata === undefined) {
    const frame = Buffer.allocUnsafe(headerLength + size);
    header.copy(frame, 0);
    frame.writeUInt32BE(id, 2);
    writeBody(frame, headerLength, body);
    return frame;
  }
  const frame = Buffer.allocUnsafe(headerLength + 4 + metadata.length + size);
  header.copy(frame, 0);
  frame[1] = FrameFlags.Metadata;
  frame.writeUInt32BE(id, 2);
  frame.writeUInt32BE(metadata.length, headerLength);
  metadata.copy(frame, headerLength + 4);
  writeBody(frame, headerLength + 4 + metadata.length, body);
  return frame;
}

/** A frame without pattern: replies (`Next`, `Last`, `Complete`, `Error`) and `Cancel`. */
export function encodeFrame(kind: FrameKind, id: number, body: EncodedBody): Buffer {
  const frame = Buffer.allocUnsafe(HEADER_SIZE + bodyLength(body));
  frame[0] = kind;
  frame[1] = 0;
  frame.writeUInt32BE(id, 2);
  frame[6] = 0;
  frame[7] = 0;
  writeBody(frame, HEADER_SIZE, body);
  return frame;
}

/**
 * Reads the header of one frame into its fields without allocating; one reader per connection,
 * reused for every frame.
 */
export class FrameReader {
  kind = 0;
  flags = 0;
  id = 0;
  patternStart = HEADER_SIZE;
  patternEnd = HEADER_SIZE;
  metadataStart = 0;
  metadataEnd = 0;
  bodyStart = HEADER_SIZE;

  /** Parses `frame`'s header; returns a description of what is wrong, or `undefined` when it is well formed. */
  read(frame: Buffer): string | undefined {
    const length = frame.length;
    if (length < HEADER_SIZE) return `a frame of ${length} bytes is shorter than the ${HEADER_SIZE}-byte header`;
    this.kind = frame[0]!;
    const flags = (this.flags = frame[1]!);
    this.id = frame.readUInt32BE(2);
    const patternEnd = HEADER_SIZE + frame.readUInt16BE(6);
    if (patternEnd > length) return `the pattern length runs past the end of the ${length}-byte frame`;
    this.patternEnd = patternEnd;
    if ((flags & FrameFlags.Metadata) === 0) {
      this.metadataStart = this.metadataEnd = 0;
      this.bodyStart = patternEnd;
      return undefined;
    }
    if (patternEnd + 4 > length) return 'the metadata length runs past the end of the frame';
    const metadataEnd = patternEnd + 4 + frame.readUInt32BE(patternEnd);
    if (metadataEnd > length) return 'the metadata block runs past the end of the frame';
    this.metadataStart = patternEnd + 4;
    this.metadataEnd = metadataEnd;
    this.bodyStart = metadataEnd;
    return undefined;
  }

  /** The metadata block of the last frame read, or `undefined` when it has none. */
  metadataOf(frame: Buffer): Record<string, string> | undefined {
    if (this.metadataEnd === 0) return undefined;
    const value: unknown = JSON.parse(frame.toString('utf8', this.metadataStart, this.metadataEnd));
    // Handlers read it as Record<string, string>: a number or an object smuggled in would break that type.
    if (value === null || typeof value !== 'object' || Array.isArray(value) || !Object.values(value).every((v) => typeof v === 'string')) {
      throw new StormRpcProtocolError('The metadata block must be a JSON object of strings');
    }
    return value as Record<string, string>;
  }
}

/** Serializes a body; `undefined` stays empty. Throws if the serializer is async or returns something else. */
export function serializeBody(serializer: StormSerializer, value: unknown): EncodedBody {
  if (value === undefined) return undefined;
  const body: unknown = serializer.serialize(value);
  if (body === undefined || typeof body === 'string' || body instanceof Uint8Array) return body;
  if (isPromiseLike(body)) throw new StormRpcSerializerError('The serializer returned a promise; Storm serializers must be synchronous');
  throw new StormRpcSerializerError(`The serializer must return a string, a Uint8Array or undefined, got ${typeof body}`);
}

/** Deserializes the body that starts at `start`; an empty body is `undefined`. */
export function deserializeBody(deserializer: StormDeserializer, frame: Buffer, start: number): unknown {
  if (start >= frame.length) return undefined;
  if (deserializer instanceof JsonBodyDeserializer) return JSON.parse(frame.toString('utf8', start));
  const value: unknown = deserializer.deserialize(start === 0 ? frame : frame.subarray(start));
  if (isPromiseLike(value)) throw new StormRpcSerializerError('The deserializer returned a promise; Storm deserializers must be synchronous');
  return value;
}

/** Encodes packet metadata for the metadata block, or `undefined` when there is none. */
export function encodeMetadata(metadata: Record<string, string> | undefined): Buffer | undefined {
  if (metadata === undefined || metadata === null) return undefined;
  const keys = Object.keys(metadata);
  if (keys.length === 0) return undefined;
  return Buffer.from(JSON.stringify(metadata), 'utf8');
}

export { JsonBodySerializer, JsonBodyDeserializer };
