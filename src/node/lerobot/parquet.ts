// Parquet for LeRobot metadata: read a file's rows and schema (hyparquet), write rows back under an
// explicit schema (hyparquet-writer) so that INT64 stays INT64 (BigInt values), lists keep their
// 3-level LIST layout and nested camera stats stay list<list<list<double>>>. Node only.
import { readFileSync } from 'node:fs';
import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import { ByteWriter, parquetWrite } from 'hyparquet-writer';

/** A parquet schema element as hyparquet reads it and hyparquet-writer takes it. */
export interface SchemaElement {
  name: string;
  type?: string;
  repetition_type?: string;
  num_children?: number;
  converted_type?: string;
  logical_type?: unknown;
  type_length?: number;
  scale?: number;
  precision?: number;
  field_id?: number;
}

/** One top-level column: its schema elements (the column's own element first, then its children). */
export interface ColumnSchema {
  name: string;
  elements: SchemaElement[];
}

export interface ParquetTable {
  columns: ColumnSchema[];
  rows: Record<string, unknown>[];
  /** Key-value metadata (e.g. the `pandas` entry of tasks.parquet). */
  kv: Array<{ key: string; value?: string }>;
}

const toArrayBuffer = (b: Buffer): ArrayBuffer => b.buffer.slice(b.byteOffset, b.byteOffset + b.length) as ArrayBuffer;

/** Split a flat schema (root first) into top-level columns with their subtrees. */
function splitColumns(schema: SchemaElement[]): ColumnSchema[] {
  const out: ColumnSchema[] = [];
  let i = 1;
  const subtree = (start: number): number => {
    let end = start + 1;
    for (let c = 0; c < (schema[start].num_children ?? 0); c++) end = subtree(end);
    return end;
  };
  while (i < schema.length) {
    const end = subtree(i);
    out.push({ name: schema[i].name, elements: schema.slice(i, end).map((e) => ({ ...e })) });
    i = end;
  }
  return out;
}

/** Read a whole parquet file (small metadata tables: episodes, tasks). Integers of INT64 columns come back as BigInt. */
export async function readParquet(path: string, columns?: string[]): Promise<ParquetTable> {
  const file = toArrayBuffer(readFileSync(path));
  const meta = parquetMetadata(file);
  const rows = (await parquetReadObjects({ file, metadata: meta, columns })) as Record<string, unknown>[];
  const schema = meta.schema as unknown as SchemaElement[];
  return { columns: splitColumns(schema), rows, kv: (meta.key_value_metadata ?? []) as ParquetTable['kv'] };
}

/** The schema elements hyparquet-writer needs: a clean copy (no statistics-only fields). */
function cleanElement(e: SchemaElement): SchemaElement {
  const out: SchemaElement = { name: e.name };
  for (const k of [
    'type',
    'repetition_type',
    'num_children',
    'converted_type',
    'type_length',
    'scale',
    'precision',
  ] as const) {
    if (e[k] !== undefined) (out as unknown as Record<string, unknown>)[k] = e[k];
  }
  if (e.logical_type !== undefined) out.logical_type = e.logical_type;
  return out;
}

/** Serialise rows under the given columns' schemas; one row group; no key-value metadata unless given. */
export function writeParquetBuffer(
  columns: ColumnSchema[],
  rows: Record<string, unknown>[],
  kv?: Array<{ key: string; value?: string }>,
): Uint8Array {
  const schema: SchemaElement[] = [{ name: 'schema', num_children: columns.length }];
  for (const c of columns) schema.push(...c.elements.map(cleanElement));
  const writer = new ByteWriter();
  parquetWrite({
    writer,
    // biome-ignore lint/suspicious/noExplicitAny: hyparquet-writer's DecodedArray accepts any JS values
    columnData: columns.map((c) => ({ name: c.name, data: rows.map((r) => r[c.name]) as any })),
    // biome-ignore lint/suspicious/noExplicitAny: SchemaElement types of the two packages differ only nominally
    schema: schema as any,
    rowGroupSize: Math.max(1, rows.length),
    kvMetadata: kv,
  });
  return new Uint8Array(writer.getBuffer());
}
