/**
 * What a Storm RPC frame carries (byte 0 of every frame). See `docs/wire-format.md`.
 * Client-to-server kinds are below `0x10`, server-to-client kinds from `0x10`.
 */
export const FrameKind = {
  /** Client → server: call `pattern` with the body as data; replies carry the same id. */
  Request: 0x01,
  /** Client → server: fire-and-forget event for `pattern`; id 0, no reply. */
  Event: 0x02,
  /** Client → server: the client lost interest in request `id`; the server stops its work and sends nothing more for it. */
  Cancel: 0x03,
  /** Server → client: one value of a streamed reply; more frames for the same id follow. */
  Next: 0x10,
  /** Server → client: the last (often the only) value, which also completes the request. */
  Last: 0x11,
  /** Server → client: the reply stream ended without a further value. */
  Complete: 0x12,
  /** Server → client: the request failed; the body is the serialized error. Completes the request. */
  Error: 0x13,
} as const;

/** One of the {@link FrameKind} values. */
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];

/** Bits of the header's flags byte. */
export const FrameFlags = {
  /** A metadata block (u32 length + UTF-8 JSON object of strings) follows the pattern. */
  Metadata: 0x01,
} as const;
