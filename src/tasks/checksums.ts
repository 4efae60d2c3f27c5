/** A stored file as a bundle writes it: its CRC-32 (null if stored before it was recorded). */
export type StoredFile = {
  key: string;
  bytes: number;
  sha256: string | null;
  crc32: number | null;
  /** When the task object recorded it stored: the entry's modification date in the ZIP. */
  storedAt: number;
};

/**
 * The CRC-32s of the stored files, which a bundle declares for each entry. Recorded with each
 * file as it is stored (ArchiveClaims.stored); a file stored before that has none until the first
 * bundle that includes it computes it, which records it here so that it is paid once.
 */
export class StoredChecksums {
  constructor(private readonly sql: SqlStorage) {}

  files(): StoredFile[] {
    return this.sql
      .exec<StoredFile>(
        `SELECT key, bytes, sha256, crc32, updated_at AS storedAt FROM assets
         WHERE state = 'stored' AND key IS NOT NULL AND bytes IS NOT NULL ORDER BY position`,
      )
      .toArray();
  }

  /**
   * Records the CRC-32 computed from a stored file's bytes, if the asset still holds that very
   * file (same key, size and SHA-256) and has none yet; false otherwise.
   */
  record(key: string, bytes: number, sha256: string | null, crc32: number): boolean {
    return (
      this.sql.exec(
        `UPDATE assets SET crc32 = ? WHERE state = 'stored' AND key = ? AND bytes = ? AND sha256 IS ?
           AND crc32 IS NULL`,
        crc32,
        key,
        bytes,
        sha256,
      ).rowsWritten > 0
    );
  }
}
