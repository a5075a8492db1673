// Node: open a weights file of either format (`--weights` accepts .safetensors or .pt) through the
// same WeightsFile interface; the format is recognised by content, not by extension.

import { readCheckpoint } from '../convert/pt.js';
import { openSafetensors } from '../graph/safetensors.js';
import { type ByteSource, type WeightsFile, bytesSource } from '../graph/weights_io.js';
import { fileSource } from './safetensors_file.js';

/** 'pt' for zip archives and legacy pickles, 'safetensors' otherwise. */
async function detectFormat(src: ByteSource): Promise<'pt' | 'safetensors'> {
  if (src.size < 2) return 'safetensors'; // the safetensors reader names the problem
  const head = await src.read(0, Math.min(9, src.size));
  if (head[0] === 0x50 && head[1] === 0x4b) return 'pt'; // 'PK'
  // safetensors: u64 little-endian header length, then the JSON header's '{' at byte 8. A header
  // length of 128, 384, … starts with 0x80 0x00..0x05 like a pickle's PROTO opcode, so '{' decides.
  if (head.length === 9 && head[8] === 0x7b) return 'safetensors';
  if (head[0] === 0x80 && head[1] <= 5) return 'pt'; // pickle PROTO: legacy torch.save, rejected with a hint
  return 'safetensors';
}

/** Open a .safetensors or .pt file (path) or bytes, for tensor-by-tensor reading. */
export async function openWeights(pathOrBytes: string | Uint8Array | ArrayBuffer): Promise<WeightsFile> {
  const src = typeof pathOrBytes === 'string' ? await fileSource(pathOrBytes) : bytesSource(pathOrBytes);
  try {
    return (await detectFormat(src)) === 'pt' ? await readCheckpoint(src) : await openSafetensors(src);
  } catch (e) {
    await src.close();
    throw e;
  }
}

/** Open a PyTorch checkpoint from a path (positional reads) or bytes. */
export async function readCheckpointFile(pathOrBytes: string | Uint8Array | ArrayBuffer): Promise<WeightsFile> {
  const src = typeof pathOrBytes === 'string' ? await fileSource(pathOrBytes) : bytesSource(pathOrBytes);
  try {
    return await readCheckpoint(src);
  } catch (e) {
    await src.close();
    throw e;
  }
}
