import { appendFile, mkdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import type { BusEntry, OversizedPointer } from '../lambda/shared/contract';
import type { BodyStore, Spool } from '../lambda/verify/delivery';

/** The spool, locally: one JSON line per entry the bus refused. */
export class FileSpool implements Spool {
  constructor(private readonly file: string) {}

  async put(entry: BusEntry): Promise<void> {
    await mkdir(path.dirname(this.file), { recursive: true });
    await appendFile(this.file, `${JSON.stringify(entry)}\n`);
  }
}

/** The oversized-body bucket, locally: files under a folder, keyed like the S3 objects. */
export class FileBodyStore implements BodyStore {
  constructor(private readonly folder: string) {}

  async put(key: string, body: Buffer): Promise<Omit<OversizedPointer, 'bytes'>> {
    const file = path.join(this.folder, key);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, body);
    return { bucket: this.folder, key };
  }
}
