// Every record of an MCAP file in file order, indexed or not, streamed from disk (@mcap/core's
// McapStreamReader over 4 MiB reads, chunks decompressed with @mcap/support's lz4 / zstd / bz2
// handlers, CRCs checked). Memory stays at one read plus one chunk whatever the file size. A file that
// is not MCAP, ends early (truncated: no footer and closing magic) or fails a CRC throws McapFormatError.
import { open } from 'node:fs/promises';
import { McapStreamReader, type TypedMcapRecord } from '@mcap/core';
import { loadDecompressHandlers } from '@mcap/support';
import { McapFormatError } from './image_messages.js';

const MCAP_MAGIC = [0x89, 0x4d, 0x43, 0x41, 0x50]; // \x89MCAP
const READ_BYTES = 4 << 20;

/** True when the bytes start with the MCAP magic (`\x89MCAP0\r\n`). */
export function hasMcapMagic(head: Uint8Array): boolean {
  return MCAP_MAGIC.every((b, i) => head[i] === b);
}

/** The records of the file at `path`, in file order (Schema/Channel records of the summary included). */
export async function* mcapRecords(path: string): AsyncGenerator<TypedMcapRecord> {
  const fh = await open(path, 'r');
  try {
    const head = new Uint8Array(8);
    const { bytesRead } = await fh.read(head, 0, 8, 0);
    if (!hasMcapMagic(head.subarray(0, bytesRead)))
      throw new McapFormatError(`'${path}' is not an MCAP file (no MCAP magic at the start)`);
    const reader = new McapStreamReader({ decompressHandlers: await loadDecompressHandlers() });
    const buf = new Uint8Array(READ_BYTES);
    let pos = 0;
    for (;;) {
      const { bytesRead: n } = await fh.read(buf, 0, buf.length, pos);
      if (n === 0) break;
      pos += n;
      try {
        reader.append(buf.slice(0, n));
      } catch (e) {
        throw new McapFormatError(`'${path}': ${(e as Error).message}`);
      }
      for (;;) {
        let rec: TypedMcapRecord | undefined;
        try {
          rec = reader.nextRecord();
        } catch (e) {
          throw new McapFormatError(`'${path}' is not a valid MCAP file: ${(e as Error).message}`);
        }
        if (!rec) break;
        yield rec;
      }
    }
    if (!reader.done())
      throw new McapFormatError(
        `'${path}' is truncated: the file ends after ${pos} bytes without the MCAP footer (an interrupted recording? \`mcap recover\` can repair it)`,
      );
  } finally {
    await fh.close();
  }
}
