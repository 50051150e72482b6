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

/** Strings up to this many UTF-16 units are encoded by a loop when they are ASCII: cheaper than the native calls for a few bytes. */
const SHORT_STRING = 64;

/**
 * Allocates a frame of `headerLength` bytes plus the body and writes the body after the header.
 * A short ASCII string (the usual JSON reply or request) is copied by a loop in one pass, without
 * the two native calls (`byteLength`, `write`) that cost more than the copy itself.
 */
function allocateWithBody(headerLength: number, body: EncodedBody): Buffer {
  if (body === undefined) return Buffer.allocUnsafe(headerLength);
  if (typeof body !== 'string') {
    const frame = Buffer.allocUnsafe(headerLength + body.length);
    frame.set(body, headerLength);
    return frame;
  }
  const length = body.length;
  if (length <= SHORT_STRING) {
    const frame = Buffer.allocUnsafe(headerLength + length);
    let i = 0;
    for (; i < length; i++) {
      const code = body.charCodeAt(i);
      if (code > 0x7f) break;
      frame[headerLength + i] = code;
    }
    if (i === length) return frame;
  }
  const frame = Buffer.allocUnsafe(headerLength + Buffer.byteLength(body, 'utf8'));
  frame.write(body, headerLength, 'utf8');
  return frame;
}

/** Texts up to this many bytes are decoded by a loop when they are ASCII. */
const SHORT_TEXT = 16;

/**
 * The UTF-8 text of `frame[start, end)`. A short ASCII text (a small JSON body: `3`, `[1,2]`,
 * `true`) is built by a loop, which costs less than `toString`'s native call; anything else is
 * decoded by `toString`.
 */
export function textOf(frame: Buffer, start: number, end: number): string {
  if (end - start <= SHORT_TEXT) {
    let text = '';
    for (let i = start; i < end; i++) {
      const code = frame[i]!;
      if (code > 0x7f) return frame.toString('utf8', start, end);
      text += String.fromCharCode(code);
    }
    return text;
  }
  return frame.toString('utf8', start, end);
}

/** Whether `frame[start, end)` holds exactly `bytes` (a short pattern: a loop beats `Buffer.compare`'s call). */
export function bytesEqual(frame: Buffer, start: number, end: number, bytes: Buffer): boolean {
  const length = bytes.length;
  if (end - start !== length) return false;
  for (let i = 0; i < length; i++) if (frame[start + i] !== bytes[i]) return false;
  return true;
}

/** A request or event frame: `header` from {@link patternHeader}, then optional metadata, then the body. */
export function encodePatternFrame(header: Buffer, id: number, metadata: Buffer | undefined, body: EncodedBody): Buffer {
  const headerLength = header.length;
  if (metadata === undefined) {
    const frame = allocateWithBody(headerLength, body);
    frame.set(header, 0);
    writeId(frame, id);
    return frame;
  }
  const frame = allocateWithBody(headerLength + 4 + metadata.length, body);
  frame.set(header, 0);
  frame[1] = FrameFlags.Metadata;
  writeId(frame, id);
  frame.writeUInt32BE(metadata.length, headerLength);
  frame.set(metadata, headerLength + 4);
  return frame;
}

/** A frame without pattern: replies (`Next`, `Last`, `Complete`, `Error`) and `Cancel`. */
export function encodeFrame(kind: FrameKind, id: number, body: EncodedBody): Buffer {
  const frame = allocateWithBody(HEADER_SIZE, body);
  frame[0] = kind;
  frame[1] = 0;
  writeId(frame, id);
  frame[6] = 0;
  frame[7] = 0;
  return frame;
}

/** Writes the correlation id (u32, big-endian) at bytes 2–5. */
function writeId(frame: Buffer, id: number): void {
  frame[2] = id >>> 24;
  frame[3] = (id >>> 16) & 0xff;
  frame[4] = (id >>> 8) & 0xff;
  frame[5] = id & 0xff;
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
    // Plain byte reads: the header is known to be there, so the checked readUInt* calls are not needed.
    this.kind = frame[0]!;
    const flags = (this.flags = frame[1]!);
    this.id = frame[2]! * 0x100_0000 + ((frame[3]! << 16) | (frame[4]! << 8) | frame[5]!);
    const patternEnd = HEADER_SIZE + ((frame[6]! << 8) | frame[7]!);
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
  if (deserializer instanceof JsonBodyDeserializer) return JSON.parse(textOf(frame, start, frame.length));
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
