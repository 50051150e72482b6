/**
 * @internal Watches the frame headers of an incoming WebSocket byte stream and reports the
 * first frame whose declared payload exceeds a limit. It only reads headers and skips payloads,
 * so it costs a few operations per frame.
 */
export class FrameSizeGuard {
  private readonly header = Buffer.alloc(14);
  private headerBytes = 0;
  private skip = 0;
  private tripped = false;

  constructor(
    private readonly maxFrameSize: number,
    private readonly onOversize: (declared: number) => void,
  ) {}

  push(chunk: Buffer): void {
    let pos = 0;
    const end = chunk.length;
    while (pos < end && !this.tripped) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, end - pos);
        this.skip -= n;
        pos += n;
        continue;
      }
      this.header[this.headerBytes++] = chunk[pos++]!;
      if (this.headerBytes < 2) continue;
      const lengthByte = this.header[1]! & 0x7f;
      const masked = (this.header[1]! & 0x80) !== 0;
      const extended = lengthByte === 126 ? 2 : lengthByte === 127 ? 8 : 0;
      const needed = 2 + extended + (masked ? 4 : 0);
      if (this.headerBytes < needed) continue;
      let length = lengthByte;
      if (extended === 2) length = this.header.readUInt16BE(2);
      else if (extended === 8) length = this.header.readUInt32BE(2) * 0x1_0000_0000 + this.header.readUInt32BE(6);
      this.headerBytes = 0;
      if (length > this.maxFrameSize) {
        this.tripped = true;
        this.onOversize(length);
        return;
      }
      this.skip = length;
    }
  }
}
