// workerd provides node:zlib (nodejs_compat), but the Worker is typed without @types/node, whose
// globals are not the Worker's: the one function it uses is declared here, as Node 22 types it.
declare module "node:zlib" {
  /** CRC-32 (ISO-HDLC, the one ZIP and gzip use) of `data`, continuing from `value`. */
  export function crc32(data: string | ArrayBufferView, value?: number): number;
}
