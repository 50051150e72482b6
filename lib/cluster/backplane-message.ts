import { OutgoingMessage } from '../core/session/outgoing-message.js';

/**
 * The wire format of the backplane channels, so other languages can read and write it. One frame
 * is one pub/sub message and carries one broadcast, several to the same key (a batch), or a
 * hand-over marker:
 *
 * | offset | size | field                                                              |
 * |--------|------|--------------------------------------------------------------------|
 * | 0      | 1    | format version, `2`                                                |
 * | 1      | 1    | flags: bit 0 = text (single message), bit 1 = batch, bit 2 = marker; others zero |
 * | 2      | 16   | origin node id (the 16 bytes of its UUID)                          |
 * | 18     | 6    | sequence number of the first message (big-endian); the messages of a batch are numbered on from it; `0` in a marker |
 * | 24     | n    | single: the payload, as the sessions receive it                    |
 * |        |      | batch: entries of flags (1 byte, bit 0 = text), length (4 bytes,   |
 * |        |      | big-endian) and payload, in publishing order                       |
 * |        |      | marker: its id, UTF-8                                              |
 *
 * Sequence numbers count the messages one node publishes (over every key, from 1), so each
 * message is named by its origin and number; recovery hand-over uses them to tell which messages
 * the old owner of a session already logged (docs/recovery-and-presence.md).
 */
export const BACKPLANE_MESSAGE_VERSION = 2;
/** Size of the frame header, in bytes. */
export const BACKPLANE_HEADER_SIZE = 24;
/** Size of the header of each entry in a batch, in bytes. */
export const BACKPLANE_ENTRY_HEADER_SIZE = 5;

const FLAG_TEXT = 0x01;
const FLAG_BATCH = 0x02;
const FLAG_MARKER = 0x04;
const ORIGIN_OFFSET = 2;
const SEQ_OFFSET = 18;
const SEQ_BYTES = 6;

/** The 16 bytes of a UUID string such as `crypto.randomUUID()` returns. */
export function nodeIdBytes(nodeId: string): Buffer {
  const hex = nodeId.replaceAll('-', '');
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new TypeError(`node id must be a UUID, got ${JSON.stringify(nodeId)}`);
  return Buffer.from(hex, 'hex');
}

/** The origin name stamped on relayed messages (`OutgoingMessage.origin`): the node id's 32 hex digits. */
export function originName(nodeId: string): string {
  return nodeId.replaceAll('-', '').toLowerCase();
}

function writeHeader(frame: Buffer, origin: Buffer, flags: number, seq: number): void {
  frame[0] = BACKPLANE_MESSAGE_VERSION;
  frame[1] = flags;
  origin.copy(frame, ORIGIN_OFFSET);
  frame.writeUIntBE(seq, SEQ_OFFSET, SEQ_BYTES);
}

/**
 * Frames messages for one key: a single message as header plus payload, several as a batch,
 * numbered from `firstSeq`. Each payload is copied once into the frame.
 */
export function encodeBackplaneFrame(origin: Buffer, messages: readonly OutgoingMessage[], firstSeq = 1): Buffer {
  if (messages.length === 1) {
    const message = messages[0]!;
    const frame = Buffer.allocUnsafe(BACKPLANE_HEADER_SIZE + message.data.length);
    writeHeader(frame, origin, message.isText ? FLAG_TEXT : 0, firstSeq);
    message.data.copy(frame, BACKPLANE_HEADER_SIZE);
    return frame;
  }
  let size = BACKPLANE_HEADER_SIZE;
  for (const message of messages) size += BACKPLANE_ENTRY_HEADER_SIZE + message.data.length;
  const frame = Buffer.allocUnsafe(size);
  writeHeader(frame, origin, FLAG_BATCH, firstSeq);
  let offset = BACKPLANE_HEADER_SIZE;
  for (const message of messages) {
    frame[offset] = message.isText ? FLAG_TEXT : 0;
    frame.writeUInt32BE(message.data.length, offset + 1);
    offset += BACKPLANE_ENTRY_HEADER_SIZE;
    offset += message.data.copy(frame, offset);
  }
  return frame;
}

/** Frames a hand-over marker (see `BroadcastRelay.mark`). */
export function encodeMarkerFrame(origin: Buffer, id: string): Buffer {
  const body = Buffer.from(id, 'utf8');
  const frame = Buffer.allocUnsafe(BACKPLANE_HEADER_SIZE + body.length);
  writeHeader(frame, origin, FLAG_MARKER, 0);
  body.copy(frame, BACKPLANE_HEADER_SIZE);
  return frame;
}

/** What {@link decodeBackplaneFrame} found in a frame. */
export type DecodedBackplaneFrame =
  | {
      readonly kind: 'messages';
      readonly messages: OutgoingMessage[];
      /** {@link originName} of the publishing node. */
      readonly origin: string;
      /** Sequence number of the last message. */
      readonly lastSeq: number;
    }
  | { readonly kind: 'marker'; readonly id: string; readonly origin: string }
  | { readonly kind: 'own' }
  | { readonly kind: 'invalid'; readonly reason: string };

const OWN: DecodedBackplaneFrame = { kind: 'own' };

/** The origin of the last frame decoded, bytes and name: frames mostly come from the same few nodes. */
const lastOriginBytes = Buffer.alloc(SEQ_OFFSET - ORIGIN_OFFSET);
let lastOrigin: string | undefined;

function originOf(frame: Buffer): string {
  if (lastOrigin !== undefined && frame.compare(lastOriginBytes, 0, lastOriginBytes.length, ORIGIN_OFFSET, SEQ_OFFSET) === 0) {
    return lastOrigin;
  }
  frame.copy(lastOriginBytes, 0, ORIGIN_OFFSET, SEQ_OFFSET);
  return (lastOrigin = frame.toString('hex', ORIGIN_OFFSET, SEQ_OFFSET));
}

/**
 * Reads a frame from the bus. Frames this node published itself come back as `own` (pub/sub
 * echoes them to every subscriber). Payloads are views of the frame, not copies; each message is
 * stamped with its origin and sequence number.
 */
export function decodeBackplaneFrame(frame: Buffer, self: Buffer): DecodedBackplaneFrame {
  if (frame.length < BACKPLANE_HEADER_SIZE) {
    return { kind: 'invalid', reason: `frame of ${frame.length} bytes is shorter than the ${BACKPLANE_HEADER_SIZE}-byte header` };
  }
  if (frame[0] !== BACKPLANE_MESSAGE_VERSION) {
    return { kind: 'invalid', reason: `unknown format version ${frame[0]} (this node speaks ${BACKPLANE_MESSAGE_VERSION})` };
  }
  if (frame.compare(self, 0, 16, ORIGIN_OFFSET, SEQ_OFFSET) === 0) return OWN;
  const flags = frame[1]!;
  const origin = originOf(frame);
  if ((flags & FLAG_MARKER) !== 0) return { kind: 'marker', id: frame.toString('utf8', BACKPLANE_HEADER_SIZE), origin };
  let seq = frame.readUIntBE(SEQ_OFFSET, SEQ_BYTES);
  if ((flags & FLAG_BATCH) === 0) {
    const message = new OutgoingMessage(frame.subarray(BACKPLANE_HEADER_SIZE), (flags & FLAG_TEXT) !== 0);
    message.origin = origin;
    message.seq = seq;
    return { kind: 'messages', messages: [message], origin, lastSeq: seq };
  }
  const messages: OutgoingMessage[] = [];
  let offset = BACKPLANE_HEADER_SIZE;
  while (offset < frame.length) {
    if (frame.length - offset < BACKPLANE_ENTRY_HEADER_SIZE) {
      return { kind: 'invalid', reason: `truncated batch entry header at byte ${offset}` };
    }
    const isText = (frame[offset]! & FLAG_TEXT) !== 0;
    const length = frame.readUInt32BE(offset + 1);
    offset += BACKPLANE_ENTRY_HEADER_SIZE;
    if (length > frame.length - offset) {
      return { kind: 'invalid', reason: `batch entry of ${length} bytes overruns the frame at byte ${offset}` };
    }
    const message = new OutgoingMessage(frame.subarray(offset, offset + length), isText);
    message.origin = origin;
    message.seq = seq++;
    messages.push(message);
    offset += length;
  }
  return { kind: 'messages', messages, origin, lastSeq: seq - 1 };
}
