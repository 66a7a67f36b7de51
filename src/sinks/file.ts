/**
 * Appends each batch to a file as JSON lines. The file is opened in append mode (O_APPEND) and each
 * batch goes out in one write, so two processes appending to the same file never interleave lines.
 */
import { appendFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import type { EventSink } from '../delivery/delivery';
import { JSON_LINES, jsonLines } from './stdout';
import { ALMDeliveryError } from '../errors';
import type { ALMEvent } from '../events/schema';

// Failures that waiting will not fix.
const PERMANENT = new Set(['EACCES', 'EPERM', 'EISDIR', 'EROFS', 'ENOTDIR']);

export class FileSink implements EventSink {
  readonly framing = JSON_LINES;
  private handle: Promise<FileHandle> | undefined;

  constructor(private readonly path: string) {}

  write(events: ALMEvent[]): Promise<void> {
    return this.writeBody(Buffer.from(jsonLines(events)), events.length);
  }

  async writeBody(data: Uint8Array, count: number): Promise<void> {
    try {
      this.handle ??= open(this.path, 'a');
      const handle = await this.handle;
      let offset = 0;
      while (offset < data.length) offset += (await handle.write(data, offset)).bytesWritten;
    } catch (error) {
      // Reopen on the next attempt (the file may have been moved or its directory created meanwhile).
      const stale = this.handle;
      this.handle = undefined;
      stale?.then((h) => h.close()).catch(() => {});
      const code = (error as { code?: unknown }).code;
      throw new ALMDeliveryError(`appending to ${this.path} failed: ${(error as Error).message}`, count, {
        retryable: !PERMANENT.has(String(code)),
        cause: error,
      });
    }
  }

  writeSync(lines: readonly string[]): void {
    appendFileSync(this.path, lines.join('\n') + '\n');
  }

  async shutdown(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    await (await handle)?.close();
  }
}
