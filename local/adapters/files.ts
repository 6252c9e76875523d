import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import type { BusEntry, OversizedPointer } from '../../lambda/shared/contract';
import type { BodyReader } from '../../lambda/shared/oversized';
import type { BodyStore, Spool } from '../../lambda/verify/ports';

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

/** Reads the bodies a FileBodyStore wrote: the pointer's "bucket" is its folder. */
export class FileBodyReader implements BodyReader {
  constructor(private readonly folder: string) {}

  async read(pointer: OversizedPointer): Promise<string> {
    if (path.resolve(pointer.bucket) !== path.resolve(this.folder)) {
      throw new Error(`The event points at "${pointer.bucket}", not the local body folder ${this.folder}.`);
    }
    return readFile(path.join(this.folder, pointer.key), 'utf8');
  }
}

/** Where local mode keeps oversized bodies (the stand-in for the S3 bucket), under its data folder. */
export function localBodyFolder(dataDir: string): string {
  return path.join(dataDir, 'oversized-bodies');
}
