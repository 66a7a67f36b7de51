/**
 * The crash-safe spool (`events.spoolDir`): a write-ahead copy on disk of every event held for
 * delivery, so that a process killed at any moment (kill -9, OOM, power loss) leaves its undelivered
 * events for the next process started on the same directory.
 *
 * - Files: each process writes its own segment files, `alm-<host>-<pid>-<token>-<n>.spool`, JSON
 *   lines, appended with O_APPEND. No two processes ever write the same file, so no lock is needed.
 * - Group commit: events are appended off the agent's path, everything translated meanwhile in one
 *   write; writes follow each other back to back (each carries what arrived during the previous one),
 *   and each is followed by an fdatasync, run beside the next write. New segments also fsync the
 *   directory.
 * - Removal: a segment is deleted once every event in it left delivery for good (delivered, set
 *   aside or dropped); segments roll over at `segmentBytes`. A full segment of which less than half
 *   the bytes are events still held (the drop policy keeps run.start/run.end longest, so survivors
 *   can be spread thin) is compacted: its live events are appended to the current segment when they
 *   fit, and once that write is done and synced the old file is deleted. A replayed file is compacted
 *   in place (rewritePlan), which needs no room. An event settled before its write is never written.
 * - Replay: at start, before anything is written, segments of processes that no longer run (see
 *   ownerAlive) are claimed by an atomic rename, so two processes never replay the same file, and
 *   counted against the bound; then read one at a time and delivered. A torn or unreadable line (the
 *   last record of a crash) is skipped and reported.
 * - Bound: the files (own and claimed) never hold more than spoolMaxBytes, counting what they still
 *   hold of settled events. Near it, the oldest segment's events other than run.start/run.end leave
 *   the disk (delivery keeps them in memory); when only run boundaries are left, whole runs leave,
 *   oldest first (takeRunsOffDisk). Events that find no room wait in memory, boundaries admitted
 *   first. At shutdown and process end (rescueSync) what waits is written synchronously, room made
 *   by the same rule with files rewritten in place.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fdatasyncSync, fstatSync, ftruncateSync, mkdirSync, openSync, unlinkSync } from 'node:fs';
import { statSync, writeFileSync, writeSync } from 'node:fs';
import { constants, readFileSync, readlinkSync } from 'node:fs';
import { lstat, mkdir, open, readdir, rename, unlink, utimes, writeFile, type FileHandle } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { ALMEventSchema, type ALMEvent } from '../events/schema';
import type { ErrorReporter } from '../report';
import type { BufferedEvent } from './buffer';
import { describeError } from './delivery';
import { detached } from './detached';

/** Most runs remembered as taken off disk before their run.end (Spool.gone). */
const GONE_RUNS = 10_000;

/** onError hears that the spool is full at most this often. */
const SPOOL_FULL_REPORT_MS = 20_000;

const isLifecycle = (entry: BufferedEvent) =>
  entry.event.event_type === 'run.start' || entry.event.event_type === 'run.end';

const FILE_NAME = /^alm-(.+)-(\d+)-([0-9a-f]{8})-(\d+)\.spool$/;

/** Tokens of the spools open in this process (several ALM instances may share a directory). */
const openTokens = new Set<string>();

/** A live spool touches its heartbeat file this often; one untouched for HEARTBEAT_STALE_MS belongs to a process that is gone. */
export const HEARTBEAT_MS = 2_000;
export const HEARTBEAT_STALE_MS = 30_000;
/**
 * A live spool looks for files of owners that went away this often (an owner in another PID namespace
 * is known to be gone only once its heartbeat is HEARTBEAT_STALE_MS old, usually after this process started).
 */
export const RESCAN_MS = 15_000;
/** Segment files larger than this are not replayed (reported and left where they are). */
export const REPLAY_FILE_LIMIT = 64 << 20;

/**
 * What makes a pid meaningful: the machine's boot and this process's PID namespace (Linux). Two
 * processes in different containers may share a hostname and a pid (both PID 1) but never this.
 */
function readScope(): string {
  const parts: string[] = [];
  try {
    parts.push(readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim());
  } catch {
    parts.push('?');
  }
  try {
    parts.push(readlinkSync('/proc/self/ns/pid'));
  } catch {
    parts.push('?');
  }
  return parts.join(' ');
}

/**
 * Test seam, for tests only: the identity a spool takes (pid and scope), so that a test can make two
 * processes look like two containers with the same hostname and pid.
 */
export const spoolTestSeam: { identity?: { pid: number; scope: string }; rescanMs?: number } = {};

function identity(): { pid: number; scope: string } {
  return spoolTestSeam.identity ?? { pid: process.pid, scope: readScope() };
}

export class Segment {
  handle: Promise<FileHandle> | undefined;
  /** Bytes of the events in it (written or waiting to be). */
  size = 0;
  /** Bytes of its events still held. */
  liveBytes = 0;
  /** Group commits started and finished on this segment. */
  writesStarted = 0;
  writesDone = 0;
  /** Writes known to be on disk (fdatasync done after them). */
  writesSynced = 0;
  /** Events appended in all. */
  count = 0;
  /** Events appended whose delivery entry is not known yet (delivery adds them right after). */
  untracked = 0;
  /** Delivery entries of this segment's events still held. */
  readonly live = new Set<BufferedEvent>();
  /** Compacted: removable once `copy` has finished write number `copyWrite`. */
  copy: Segment | undefined;
  copyWrite = 0;
  /** Segments waiting for this one's writes (their compacted copy is here). */
  readonly originals: Segment[] = [];
  /** No more appends: rolled over, or a replayed file. */
  closed = false;
  /** Read from an earlier process's file: its events are on disk already. */
  replayed = false;
  removed = false;
  /** Its file is deleted (its bytes no longer count). */
  unlinked = false;
  /** Claimed from an earlier process and not read yet (its events are unknown: it cannot be trimmed). */
  unread = false;
  /** Being rewritten in place (compaction of a replayed file, see rewritePlan). */
  rewriting = false;
  /** Still holds lines of runs that left the disk whole (rewritten at process end, see rescueSync). */
  partial = false;
  /** Bytes of its file known to be written. */
  flushed = 0;
  /** Events waiting for the next group commit, in order (one settled meanwhile is never written). */
  readonly pending = new Set<BufferedEvent>();
  writing = false;
  /** The events of the write under way (written again by a synchronous rescue: it may not finish). */
  writingEntries: BufferedEvent[] = [];
  syncing = false;
  dirty = false;

  constructor(readonly path: string) {}
}

export interface ReplayedSegment {
  segment: Segment;
  events: ALMEvent[];
  lines: string[];
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** One step of an in-place rewrite: write `text` at byte `at`, after an fdatasync when `syncFirst`. */
interface RewriteStep {
  at: number;
  text: string;
  syncFirst: boolean;
}

/**
 * How to rewrite a spool file in place so that it holds only the lines in `keep` (each once, in their
 * order), without ever needing more room than the file takes: each kept line moves towards the start,
 * over bytes of lines that are not kept or that were already moved (and fdatasynced since, so a power
 * cut never finds a kept line nowhere). A line that would overlap its own old place stays where it is,
 * and the gap before it becomes a line of spaces (skipped when read). No write overwrites a line it
 * moves, so a crash (even kill -9 in the middle of a write) leaves every kept line in the file at
 * least once, with at most one unreadable fragment after the moved ones. `length`: truncate to this
 * once the steps are done and synced.
 */
export function rewritePlan(data: Buffer, keep: Set<string>): { steps: RewriteStep[]; length: number } {
  const steps: RewriteStep[] = [];
  let w = 0;
  // The batch being built: its text goes at batchAt; none of its bytes may reach batchLimit (the old place
  // of its first line) or unsynced (the first old place of lines moved since the last fdatasync).
  let batch: string[] = [];
  let batchAt = 0;
  let batchLimit = Infinity;
  let unsynced = Infinity;
  let syncFirst = false;
  const flush = () => {
    if (batch.length === 0) return;
    steps.push({ at: batchAt, text: batch.join(''), syncFirst });
    syncFirst = false;
    unsynced = Math.min(unsynced, batchLimit);
    batch = [];
    batchLimit = Infinity;
  };
  /** Add `text` (to go at w, ending at w + bytes); `from`: the old place it moves from, if it moves. */
  const add = (text: string, bytes: number, from: number) => {
    if (w + bytes > batchLimit) flush();
    if (w + bytes > unsynced) {
      flush();
      syncFirst = true;
      unsynced = Infinity;
    }
    if (batch.length === 0) {
      batchAt = w;
      batchLimit = from;
    }
    batch.push(text);
    w += bytes;
  };
  for (let start = 0; start < data.length;) {
    const end = data.indexOf(10, start);
    if (end < 0) break; // a torn last line: not kept
    const length = end + 1 - start;
    const line = data.toString('utf8', start, end);
    if (keep.delete(line)) {
      if (w === start) {
        flush();
        w += length;
      } else if (w + length <= start) {
        add(line + '\n', length, start);
      } else {
        // Moving it would overwrite it: it stays, after a line of spaces over the gap.
        add(' '.repeat(start - w - 1) + '\n', start - w, Infinity);
        flush();
        w = end + 1;
      }
    }
    start = end + 1;
  }
  flush();
  return { steps, length: w };
}

export class Spool {
  private readonly host = hostname().replace(/[^A-Za-z0-9.]/g, '_');
  private readonly token = randomBytes(4).toString('hex');
  private seq = 0;
  private active: Segment | undefined;
  private readonly segments = new Set<Segment>();
  private pumping: Promise<void> | undefined;
  private pumpScheduled: NodeJS.Immediate | undefined;
  private failed = false;
  private readonly ready: Promise<void>;
  /** Bytes of the files (written or about to be), and of the events in them still held. */
  private size = 0;
  private liveBytes = 0;
  private liveCount = 0;
  /** Deletions and fdatasyncs under way (close() waits for them). */
  private readonly removals = new Set<Promise<void>>();
  private readonly syncs = new Set<Promise<void>>();

  /** Events delivery holds that are not in a file: no room when they came (lifecycle ones are admitted first once room is made). */
  private readonly waiting = new Set<BufferedEvent>();
  /** Segments given up to make room, until their files are gone (or rewritten). */
  private readonly freeing = new Set<Segment>();
  /** Removed segments whose files are not deleted yet. */
  private readonly removing = new Set<Segment>();
  /** Runs taken off disk whole before their run.end: their later events stay in memory only. */
  private readonly gone = new Set<string>();
  private closing = false;
  /** Events taken off disk (or never written) for want of room since the last report. */
  private evictedUnreported = 0;
  private evictedReportedAt = -Infinity;
  private readonly segmentBytes: number;

  private readonly pid: number;
  private readonly scope: string;
  private readonly heartbeatPath: string;
  private heartbeat: NodeJS.Timeout | undefined;
  private rescan: NodeJS.Timeout | undefined;
  private rescanning = false;
  /** Told when a rescan claimed files: replay() has more to read. */
  onClaimed: (() => void) | undefined;

  constructor(
    readonly dir: string,
    /** The files never hold more than this many bytes (spoolMaxBytes). */
    private readonly maxBytes: number,
    private readonly report: ErrorReporter,
  ) {
    // Small enough that freeing the oldest segment frees room well before the budget is reached.
    this.segmentBytes = Math.min(4 << 20, Math.max(256, Math.floor(maxBytes / 8)));
    ({ pid: this.pid, scope: this.scope } = identity());
    this.heartbeatPath = join(dir, `alm-${this.host}-${this.pid}-${this.token}.live`);
    openTokens.add(this.token);
    // The heartbeat exists before any segment; then the first segment is opened at once, so that
    // the first events do not wait for it.
    this.ready = mkdir(dir, { recursive: true })
      .then(() => writeFile(this.heartbeatPath, JSON.stringify({ scope: this.scope })))
      .then(() => this.claim())
      .then(
        () => {
          this.heartbeat = setInterval(() => {
            const now = new Date();
            utimes(this.heartbeatPath, now, now).catch(() => {});
          }, HEARTBEAT_MS);
          this.heartbeat.unref();
          this.rescan = setInterval(() => void this.rescanOnce(), spoolTestSeam.rescanMs ?? RESCAN_MS);
          this.rescan.unref();
          const segment = (this.active ??= this.newSegment());
          segment.handle ??= open(segment.path, 'a');
          void segment.handle.then(
            () => this.syncDir(),
            (error: unknown) => this.fail(error),
          );
        },
        (error: unknown) => this.fail(error),
      );
  }

  /** Whether `bytes` more fit in the files now. */
  private fits(bytes: number): boolean {
    return this.size + bytes <= this.maxBytes;
  }

  private grow(segment: Segment, bytes: number): void {
    segment.size += bytes;
    this.size += bytes;
  }

  private segmentPath(): string {
    return join(this.dir, `alm-${this.host}-${this.pid}-${this.token}-${++this.seq}.spool`);
  }

  private newSegment(): Segment {
    const segment = new Segment(this.segmentPath());
    this.segments.add(segment);
    return segment;
  }

  /**
   * Reserve room for serialised events; returns the segment that will hold them. Delivery then
   * reports their entries (track), which go to the next group commit.
   */
  append(lines: readonly string[]): Segment {
    const segment = (this.active ??= this.newSegment());
    segment.count += lines.length;
    segment.untracked += lines.length;
    return segment;
  }

  /** Delivery now holds these events (appended just before, or replayed): write those not in a file yet. */
  track(entries: readonly BufferedEvent[]): void {
    for (const entry of entries) {
      const segment = entry.owner;
      if (!(segment instanceof Segment)) continue;
      segment.untracked--;
      this.hold(segment, entry);
    }
    // A backlog replayed into a smaller spoolMaxBytes is trimmed like the spool's own events.
    if (this.size > this.maxBytes - 2 * this.segmentBytes) this.evictOldest();
    this.schedulePump();
  }

  /** Hold a delivery entry in `segment`; `placed`: room is already known (compaction, admission). */
  private hold(segment: Segment, entry: BufferedEvent, placed = false): void {
    if (this.gone.size > 0 && !segment.replayed) {
      const run = entry.event.run_id;
      if (run !== null && this.gone.has(run)) {
        // Its run left the disk whole: not written, so that no run is on disk without its run.start.
        if (entry.event.event_type === 'run.end') this.gone.delete(run);
        entry.owner = undefined;
        segment.count--;
        return;
      }
    }
    if (!segment.replayed && !placed) {
      const bytes = entry.bytes + 1;
      if (this.size + bytes > this.maxBytes - 2 * this.segmentBytes) this.evictOldest();
      // The last segmentBytes are kept for run.start/run.end.
      const lifecycle = isLifecycle(entry);
      const room = this.maxBytes - (lifecycle ? 0 : this.segmentBytes) - this.size;
      if (bytes > room || (!lifecycle && this.waiting.size > 0)) {
        // No room now: kept in memory (delivered as usual), written once room is made.
        entry.owner = undefined;
        segment.count--;
        this.waiting.add(entry);
        if (entry.bytes + 1 > this.maxBytes) this.waiting.delete(entry); // can never fit: memory only
        this.evictedUnreported++;
        this.reportEvicted();
        return;
      }
    }
    segment.live.add(entry);
    segment.liveBytes += entry.bytes + 1;
    this.liveBytes += entry.bytes + 1;
    this.liveCount++;
    if (segment.replayed) return;
    segment.pending.add(entry);
    this.grow(segment, entry.bytes + 1);
    if (segment.size >= this.segmentBytes) this.rollOver(segment);
  }

  private schedulePump(): void {
    this.pumpScheduled ??= detached(() =>
      setImmediate(() => {
        this.pumpScheduled = undefined;
        this.pump();
      }),
    );
  }

  /**
   * Make room for newer events: the oldest segment (other than the one being appended to) gives up
   * its events other than run.start/run.end (they stay in memory, delivered as usual, but are no
   * longer on disk); its file is then deleted, or compacted when lifecycle events remain.
   */
  private evictOldest(): void {
    // One segment at a time: its bytes count until its file is gone (or its copy is written).
    if (this.freeing.size > 0 || this.closing || this.failed) return;
    // Pass 2 only when pass 1 finds nothing left to do and no file is on its way out (its going may
    // be room enough; each going calls this again, and so does the next event).
    let waitFor = this.removing.size > 0;
    for (const segment of this.segments) {
      if (segment === this.active || segment.removed) continue;
      if (segment.copy !== undefined || segment.rewriting) {
        waitFor = true;
        continue;
      }
      if (segment.replayed && segment.untracked > 0) continue; // not in delivery's hands yet
      if (segment.untracked > 0) waitFor = true; // being filled: it cannot empty yet
      const evicted = this.takeOffDisk(segment, (entry) => !isLifecycle(entry));
      if (evicted === 0 && segment.live.size > 0 && segment.liveBytes * 2 >= segment.size) continue;
      waitFor = true;
      if (evicted === 0 && segment.live.size === 0) continue; // goes once its write or sync is done
      this.evictedUnreported += evicted;
      this.reportEvicted();
      this.tidy(segment, true);
      if (segment.removed || segment.copy !== undefined || segment.rewriting) {
        this.freeing.add(segment);
        return;
      }
    }
    if (waitFor) return;
    // Only run boundaries left on disk, and still no room: the runs of the oldest segment leave the disk
    // whole (their events in every file), so that it empties and goes.
    const oldest = this.oldestSegment(false);
    if (oldest === undefined) return;
    const runs = new Set<string | null>();
    for (const entry of oldest.live) runs.add(entry.event.run_id);
    // Until its file is gone (after a write or sync under way, maybe), no other segment is given up.
    this.freeing.add(oldest);
    for (const segment of this.takeRunsOffDisk(runs)) this.tidy(segment, true);
  }

  /** The oldest segment with events on disk that can be trimmed now; the active one too with `active`. */
  private oldestSegment(active: boolean): Segment | undefined {
    for (const segment of this.segments) {
      if (segment.removed || segment.unread || segment.rewriting || segment.copy !== undefined) continue;
      if (segment.live.size === 0 || segment.untracked > 0 || (segment === this.active && !active)) continue;
      return segment;
    }
    return undefined;
  }

  /**
   * Take every event of these runs off disk (delivery keeps them), run.start/run.end included, in every
   * segment; their events still to come are not written. Returns the segments that held some.
   */
  private takeRunsOffDisk(runs: Set<string | null>): Segment[] {
    const touched: Segment[] = [];
    const ended = new Set<string | null>();
    const taken = (entry: BufferedEvent) => {
      if (!runs.has(entry.event.run_id)) return false;
      if (entry.event.event_type === 'run.end') ended.add(entry.event.run_id);
      return true;
    };
    for (const segment of this.segments) {
      if (segment.removed || segment.live.size === 0) continue;
      const count = this.takeOffDisk(segment, taken);
      if (count === 0) continue;
      this.evictedUnreported += count;
      segment.partial = true;
      touched.push(segment);
    }
    for (const entry of this.waiting) if (taken(entry)) this.waiting.delete(entry);
    for (const run of runs) {
      if (run === null || ended.has(run)) continue;
      this.gone.add(run);
      // A run whose run.end was delivered before never clears its mark: keep the newest marks only.
      if (this.gone.size > GONE_RUNS) this.gone.delete(this.gone.values().next().value!);
    }
    this.reportEvicted();
    return touched;
  }

  /** Take a segment's live events that `which` selects off disk (delivery keeps them); returns how many. */
  private takeOffDisk(segment: Segment, which: (entry: BufferedEvent) => boolean): number {
    let count = 0;
    for (const entry of segment.live) {
      if (!which(entry)) continue;
      this.letGo(segment, entry);
      entry.owner = undefined;
      count++;
    }
    return count;
  }

  /**
   * `segment` no longer holds `entry`: its bytes stop counting as live, and it is never written if it
   * was not yet. False when the segment did not hold it (not tracked yet).
   */
  private letGo(segment: Segment, entry: BufferedEvent): boolean {
    if (!segment.live.delete(entry)) return false;
    segment.liveBytes -= entry.bytes + 1;
    this.liveBytes -= entry.bytes + 1;
    this.liveCount--;
    if (segment.pending.delete(entry)) this.grow(segment, -(entry.bytes + 1));
    return true;
  }

  /** Room was made: write what waits, run.start/run.end first, while it fits. */
  private admitWaiting(): void {
    if (this.waiting.size === 0 || this.failed) return;
    for (const lifecycle of [true, false]) {
      for (const entry of this.waiting) {
        if (isLifecycle(entry) !== lifecycle) continue;
        if (!this.fits(entry.bytes + 1)) return;
        this.waiting.delete(entry);
        const segment = (this.active ??= this.newSegment());
        entry.owner = segment;
        segment.count++;
        this.hold(segment, entry, true);
      }
    }
    this.schedulePump();
  }

  private reportEvicted(): void {
    const now = Date.now();
    if (this.evictedUnreported === 0 || now - this.evictedReportedAt < SPOOL_FULL_REPORT_MS) return;
    this.evictedReportedAt = now;
    const count = this.evictedUnreported;
    this.evictedUnreported = 0;
    this.report(
      new Error(
        `alm-otel spool: spoolMaxBytes ${this.maxBytes} reached: ${count} events (the oldest other than run.start/run.end, then whole runs, oldest first) are kept in memory only, still delivered while this process lives`,
      ),
    );
  }

  /** Events left delivery for good: their segments may go, or be compacted. */
  settle(entries: readonly BufferedEvent[]): void {
    let last: Segment | undefined;
    for (const entry of entries) {
      const segment = entry.owner;
      if (!(segment instanceof Segment)) {
        if (this.waiting.size > 0) this.waiting.delete(entry);
        continue;
      }
      if (!this.letGo(segment, entry)) segment.untracked--;
      if (segment !== last && last !== undefined) this.tidy(last);
      last = segment;
    }
    if (last !== undefined) this.tidy(last);
  }

  private tidy(segment: Segment, evicting = false): void {
    if (
      (segment.closed || evicting) &&
      segment !== this.active &&
      segment.copy === undefined &&
      !segment.rewriting &&
      segment.live.size > 0 &&
      segment.untracked === 0 &&
      segment.liveBytes * 2 < segment.size &&
      (evicting || segment.size >= this.segmentBytes / 2) &&
      !this.failed
    ) {
      // A copy needs room; a rewrite in place does not (the directory never grows for it), but reads the
      // file: used for a replayed file when room is wanted, and for this process's own when a copy does not fit.
      if (segment.replayed) {
        if (evicting) this.rewrite(segment);
      } else if (this.fits(segment.liveBytes)) this.compact(segment);
      else if (evicting && segment.pending.size === 0 && !segment.writing) this.rewrite(segment);
    }
    this.maybeRemove(segment);
  }

  /** Rewrite a closed file in place with only its events still held (rewritePlan). */
  private rewrite(segment: Segment): void {
    segment.rewriting = true;
    segment.partial = false;
    const keep = new Set<string>();
    for (const entry of segment.live) keep.add(entry.line!);
    const job = (async () => {
      let handle: FileHandle | undefined;
      try {
        handle = await open(segment.path, constants.O_RDWR | constants.O_NONBLOCK);
        const stat = await handle.stat();
        if (!stat.isFile() || stat.size > REPLAY_FILE_LIMIT) throw new Error('not a regular file of a replayable size');
        const plan = rewritePlan(await handle.readFile(), keep);
        for (const step of plan.steps) {
          if (step.syncFirst) await handle.datasync();
          await handle.write(step.text, step.at, 'utf8');
        }
        await handle.datasync();
        await handle.truncate(plan.length);
        this.grow(segment, plan.length - segment.size);
      } catch (error) {
        this.report(new Error(`alm-otel spool: could not compact ${segment.path}: ${describeError(error)}`));
      } finally {
        try {
          await handle?.close();
        } catch {
          // already closed
        }
        segment.rewriting = false;
        this.freeing.delete(segment);
      }
      this.maybeRemove(segment);
      if (this.size > this.maxBytes - 2 * this.segmentBytes) this.evictOldest();
      this.admitWaiting();
    })();
    this.removals.add(job);
    void job.finally(() => this.removals.delete(job));
  }

  /** Move a segment's live events to the current segment; the old file goes once they are written. */
  private compact(old: Segment): void {
    const entries = [...old.live];
    old.live.clear();
    this.liveBytes -= old.liveBytes;
    this.liveCount -= entries.length;
    old.liveBytes = 0;
    const copy = (this.active ??= this.newSegment());
    copy.count += entries.length;
    for (const entry of entries) {
      entry.owner = copy;
      this.hold(copy, entry, true);
    }
    old.copy = copy;
    old.copyWrite = copy.writesStarted + 1;
    copy.originals.push(old);
    this.schedulePump();
  }

  /**
   * Read the files claimed (at start, or by a later rescan) one at a time.
   */
  async *replay(): AsyncGenerator<ReplayedSegment> {
    await this.ready;
    if (this.failed) return;
    const claimed = this.claimed;
    this.claimed = [];
    for (const { segment, name } of claimed) {
      let read: Awaited<ReturnType<Spool['read']>>;
      try {
        read = await this.read(segment.path);
      } catch (error) {
        // Unreadable: left on disk (under this process's name, so the next process tries again), never
        // deleted, and no longer counted.
        this.report(new Error(`alm-otel spool: ${name} could not be read, left as it is: ${describeError(error)}`));
        this.segments.delete(segment);
        this.grow(segment, -segment.size);
        continue;
      }
      const { events, lines, skipped, size } = read;
      segment.unread = false;
      this.grow(segment, size - segment.size);
      segment.count = segment.untracked = events.length;
      if (skipped > 0) {
        this.report(new Error(`alm-otel spool: skipped ${skipped} torn or unreadable records in ${name}`));
      }
      if (events.length === 0) this.maybeRemove(segment);
      else yield { segment, events, lines };
    }
  }

  /** Files claimed and not read yet by replay(). */
  private claimed: { segment: Segment; name: string }[] = [];

  /**
   * Claim the files that processes no longer running left (see replay), before this process writes
   * anything at start, so that their bytes count against spoolMaxBytes from the start: while the
   * directory is over it, this process writes nothing (its events wait in memory).
   */
  private async claim(): Promise<void> {
    let names: string[];
    try {
      names = (await readdir(this.dir)).sort();
    } catch (error) {
      this.report(error);
      return;
    }
    const claimed: { segment: Segment; name: string }[] = [];
    const owners = new Map<string, boolean>();
    for (const name of names) {
      const m = FILE_NAME.exec(name);
      if (m === null || m[1] !== this.host) continue;
      const owner = `${m[1]}-${m[2]}-${m[3]}`;
      let alive = owners.get(owner);
      if (alive === undefined) owners.set(owner, (alive = await this.ownerAlive(Number(m[2]), m[3]!)));
      if (alive) continue;
      // Only regular files of a sane size are claimed (a FIFO would block the read, a huge file exhaust memory).
      const from = join(this.dir, name);
      let size: number;
      try {
        const stat = await lstat(from);
        if (!stat.isFile()) continue;
        if (stat.size > REPLAY_FILE_LIMIT) {
          this.report(
            new Error(
              `alm-otel spool: ${name} is ${stat.size} bytes, over ${REPLAY_FILE_LIMIT}: not replayed, left as it is`,
            ),
          );
          continue;
        }
        size = stat.size;
      } catch {
        continue; // gone meanwhile
      }
      const segment = new Segment(this.segmentPath());
      try {
        await rename(from, segment.path);
      } catch {
        continue; // claimed by another process meanwhile
      }
      segment.closed = segment.replayed = segment.unread = true;
      segment.untracked = 1;
      this.grow(segment, size);
      claimed.push({ segment, name });
    }
    if (claimed.length === 0) return;
    this.claimed.push(...claimed);
    // Claimed files are older than this process's own: they are trimmed first.
    const own = [...this.segments];
    this.segments.clear();
    for (const { segment } of claimed) this.segments.add(segment);
    for (const segment of own) this.segments.add(segment);
    // Events of this process counted before the claim and not written yet wait for room like later ones.
    for (const segment of own) {
      if (this.fits(0)) break;
      const pending = [...segment.pending];
      this.takeOffDisk(segment, (entry) => segment.pending.has(entry));
      for (const entry of pending) this.waiting.add(entry);
    }
  }

  /** Claim files whose owners went away since the last look; replay() reads them next. */
  private async rescanOnce(): Promise<void> {
    if (this.rescanning || this.closing || this.failed) return;
    this.rescanning = true;
    try {
      const before = this.claimed.length;
      await this.claim();
      if (this.claimed.length > before && !this.closing) this.onClaimed?.();
    } finally {
      this.rescanning = false;
    }
  }

  /** Events held for delivery that are in a file (or will be once pending writes are done). */
  get spooled(): number {
    return this.liveCount;
  }

  /**
   * The process is ending now (process.exit, an uncaught exception), or shutdown is done: write
   * synchronously what is not in a file yet, delete files given up, rewrite files that hold lines of
   * runs that left the disk whole, and write what waits for room, run boundaries first, making room
   * by the same rule as while running (other events first, then whole runs, oldest first). The events
   * of a write under way that has not landed are written again (an event may be replayed twice;
   * event_ids let receivers de-duplicate).
   */
  rescueSync(): void {
    if (this.failed) return;
    try {
      mkdirSync(this.dir, { recursive: true });
      // What is not in a file yet.
      for (const segment of this.segments) this.writeSync(segment);
      // Files already given up (settled, or compacted into a copy that is now written) go now.
      for (const segment of [...this.removing]) this.deleteSync(segment);
      for (const segment of [...this.segments]) {
        if (segment.unread || segment.rewriting || segment.untracked > 0) continue;
        if (segment.live.size === 0 && segment !== this.active) this.deleteSync(segment);
        // Lines of runs that left the disk whole go too, so that no run is on disk without its boundaries.
        else if (segment.partial) this.shrinkSync(segment);
      }
      // What waits for room, run boundaries first: room is made as while running (the other events
      // first, then whole runs, oldest first), the files rewritten in place.
      for (const lifecycle of [true, false]) {
        for (const entry of this.waiting) {
          if (isLifecycle(entry) !== lifecycle) continue;
          if (!this.fits(entry.bytes + 1) && (!lifecycle || !this.makeRoomSync(entry))) continue;
          if (!this.waiting.delete(entry)) continue;
          const segment = (this.active ??= this.newSegment());
          entry.owner = segment;
          segment.count++;
          this.hold(segment, entry, true);
        }
      }
      for (const segment of this.segments) this.writeSync(segment);
    } catch (error) {
      this.fail(error);
    }
  }

  /** Make room for a waiting run boundary at process end; false when its own run had to leave the disk instead. */
  private makeRoomSync(entry: BufferedEvent): boolean {
    const need = entry.bytes + 1;
    for (const segment of [...this.segments]) {
      if (this.fits(need)) return true;
      if (segment.removed || segment.unread || segment.rewriting || segment.untracked > 0) continue;
      if (this.takeOffDisk(segment, (e) => !isLifecycle(e)) > 0) this.shrinkSync(segment);
    }
    while (!this.fits(need)) {
      const oldest = this.oldestSegment(true);
      if (oldest === undefined) return false;
      const run = oldest.live.values().next().value!.event.run_id;
      for (const segment of this.takeRunsOffDisk(new Set([run]))) this.shrinkSync(segment);
      if (run === entry.event.run_id) return false;
    }
    return true;
  }

  /**
   * Synchronously: append what a segment has not written. The events of a write under way that has
   * not landed wait for room like new ones, first in line: that write may still land, so its bytes
   * keep counting where they are.
   */
  private writeSync(segment: Segment): void {
    if (segment.removed) return;
    if (segment.writing && segment.writingEntries.length > 0) {
      let bytes = 0;
      for (const entry of segment.writingEntries) bytes += entry.bytes + 1;
      let size = 0;
      try {
        size = statSync(segment.path).size;
      } catch {
        // not there yet
      }
      if (size < segment.flushed + bytes) {
        const again = new Set(segment.writingEntries.filter((entry) => segment.live.has(entry)));
        this.takeOffDisk(segment, (entry) => again.has(entry));
        const later = [...this.waiting];
        this.waiting.clear();
        for (const entry of [...again, ...later]) this.waiting.add(entry);
      }
      segment.writingEntries = [];
    }
    let text = '';
    for (const entry of segment.pending) text += entry.line! + '\n';
    segment.pending.clear();
    if (text === '') return;
    const fd = openSync(segment.path, 'a');
    try {
      writeFileSync(fd, text);
      fdatasyncSync(fd);
    } finally {
      closeSync(fd);
    }
    segment.flushed += Buffer.byteLength(text);
  }

  /** Synchronously: delete a segment without events held, or rewrite it in place with those it holds. */
  private shrinkSync(segment: Segment): void {
    if (segment.live.size === 0 && segment !== this.active) {
      this.deleteSync(segment);
      return;
    }
    this.writeSync(segment);
    segment.partial = false;
    const keep = new Set<string>();
    for (const entry of segment.live) keep.add(entry.line!);
    let fd: number;
    try {
      fd = openSync(segment.path, constants.O_RDWR | constants.O_NONBLOCK);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    try {
      const stat = fstatSync(fd);
      if (!stat.isFile()) return;
      const plan = rewritePlan(readFileSync(fd), keep);
      for (const step of plan.steps) {
        if (step.syncFirst) fdatasyncSync(fd);
        writeSync(fd, step.text, step.at, 'utf8');
      }
      fdatasyncSync(fd);
      ftruncateSync(fd, plan.length);
      this.grow(segment, plan.length - stat.size);
      segment.flushed = plan.length;
    } finally {
      closeSync(fd);
    }
  }

  /** Synchronously: delete a segment's file now. */
  private deleteSync(segment: Segment): void {
    if (segment.unlinked) return;
    try {
      unlinkSync(segment.path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    if (!segment.removed) {
      segment.removed = true;
      this.segments.delete(segment);
      this.rollOver(segment);
      this.releaseCopy(segment);
    }
    const handle = segment.handle;
    segment.handle = undefined;
    void handle?.then((h) => h.close()).catch(() => {});
    this.unlinked(segment);
  }

  /** Finish pending writes and syncs, close files, delete settled segments; unsettled ones stay for the next process. */
  async close(): Promise<void> {
    this.closing = true;
    if (this.pumpScheduled !== undefined) clearImmediate(this.pumpScheduled);
    this.pumpScheduled = undefined;
    await this.pumping;
    this.pump();
    await this.pumping;
    // A sync's or a rewrite's end may start a removal (of a file compacted into the one synced): wait
    // until none is left.
    while (this.syncs.size > 0) await Promise.all(this.syncs);
    while (this.removals.size > 0) await Promise.all(this.removals);
    // What still waits for room is written now, room made by the same rules as at process end.
    if (this.waiting.size > 0 || [...this.segments].some((segment) => segment.partial)) this.rescueSync();
    openTokens.delete(this.token);
    clearInterval(this.heartbeat);
    clearInterval(this.rescan);
    for (const segment of this.segments) {
      segment.closed = true;
      const handle = segment.handle;
      segment.handle = undefined;
      try {
        const h = await handle;
        if (h !== undefined && segment.dirty) await h.datasync();
        // Everything written is on disk now (files compacted into this one may go).
        segment.writesSynced = segment.writesDone;
        await h?.close();
      } catch {
        // Closing failed: the file stays as it is.
      }
    }
    // Until nothing more can go: a copy's going lets the files compacted into it go.
    for (let count = -1; count !== this.segments.size;) {
      count = this.segments.size;
      for (const segment of [...this.segments]) this.maybeRemove(segment);
    }
    while (this.removals.size > 0) await Promise.all(this.removals);
    try {
      await unlink(this.heartbeatPath);
    } catch {
      // never written, or already gone
    }
    if (this.waiting.size > 0) {
      this.report(
        new Error(
          `alm-otel spool: ${this.waiting.size} undelivered events did not fit in spoolMaxBytes ${this.maxBytes} and are lost`,
        ),
      );
      this.waiting.clear();
    }
  }

  /**
   * Whether the process that owns segments named (pid, token) may still be writing them. Its
   * heartbeat file says where it runs: in this process's scope (same boot, same PID namespace) the
   * pid answers at once; elsewhere (another container with the same hostname) only the heartbeat's
   * age does. Without a heartbeat (a spool of an older version), the pid, as before.
   */
  private async ownerAlive(pid: number, token: string): Promise<boolean> {
    if (openTokens.has(token)) return true;
    const path = join(this.dir, `alm-${this.host}-${pid}-${token}.live`);
    let scope: string;
    let mtime: number | undefined;
    try {
      const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
      try {
        const stat = await handle.stat();
        if (!stat.isFile() || stat.size > 4096) return true; // not ours to judge: leave it
        mtime = stat.mtimeMs;
        scope = String((JSON.parse(await handle.readFile('utf8')) as { scope?: unknown }).scope);
      } finally {
        await handle.close();
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return pid !== this.pid && processAlive(pid);
      // Unreadable heartbeat: judged by its age, or alive when even that is unknown.
      return mtime === undefined || Date.now() - mtime < HEARTBEAT_STALE_MS;
    }
    if (scope === this.scope) return pid !== this.pid && processAlive(pid);
    return Date.now() - mtime < HEARTBEAT_STALE_MS;
  }

  private async read(path: string): Promise<{ events: ALMEvent[]; lines: string[]; skipped: number; size: number }> {
    // O_NONBLOCK: a FIFO put there meanwhile does not block the open; fstat then refuses it.
    const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
    let data: Buffer;
    try {
      const stat = await handle.stat();
      if (!stat.isFile() || stat.size > REPLAY_FILE_LIMIT) throw new Error('not a regular file of a replayable size');
      data = await handle.readFile();
    } finally {
      await handle.close();
    }
    const text = data.toString('utf8');
    const parts = text.split('\n');
    // The last part is empty after a complete record, or a torn record after a crash mid-write.
    const torn = parts.pop() !== '' ? 1 : 0;
    const events: ALMEvent[] = [];
    const lines: string[] = [];
    let skipped = torn;
    for (const line of parts) {
      if (line.trim() === '') continue; // a gap left by an in-place compaction (rewritePlan)
      try {
        const event: unknown = JSON.parse(line);
        if (!ALMEventSchema.safeParse(event).success) throw new Error('not an event');
        events.push(event as ALMEvent);
        lines.push(line);
      } catch {
        skipped++;
      }
    }
    return { events, lines, skipped, size: data.length };
  }

  private rollOver(segment: Segment): void {
    segment.closed = true;
    if (this.active === segment) this.active = undefined;
  }

  private pump(): void {
    if (this.pumping !== undefined) return;
    this.pumping = this.writeAll().finally(() => {
      this.pumping = undefined;
      for (const segment of this.segments) {
        if (segment.pending.size > 0) {
          this.pump();
          return;
        }
      }
    });
  }

  /** One group commit per segment with pending lines. */
  private async writeAll(): Promise<void> {
    await this.ready;
    for (const segment of [...this.segments]) {
      if (segment.pending.size === 0) continue;
      let text = '';
      let bytes = 0;
      for (const entry of segment.pending) {
        text += entry.line! + '\n';
        bytes += entry.bytes + 1;
      }
      segment.writingEntries = [...segment.pending];
      segment.pending.clear();
      segment.writesStarted++;
      if (this.failed || text === '') {
        segment.writesDone++;
        // Nothing written: synced as soon as what was written before is.
        if (!segment.dirty && !segment.syncing) segment.writesSynced = segment.writesDone;
        this.maybeRemove(segment);
        for (const original of [...segment.originals]) this.maybeRemove(original);
        continue;
      }
      segment.writing = true;
      try {
        if (segment.handle === undefined) {
          segment.handle = open(segment.path, 'a');
          await segment.handle;
          void this.syncDir();
        }
        await (await segment.handle).appendFile(text);
        segment.flushed += bytes;
        segment.dirty = true;
        if (!segment.syncing) {
          const sync = this.sync(segment);
          this.syncs.add(sync);
          void sync.finally(() => this.syncs.delete(sync));
        }
      } catch (error) {
        this.fail(error);
      } finally {
        segment.writing = false;
        segment.writingEntries = [];
        segment.writesDone++;
      }
      this.maybeRemove(segment);
      for (const original of [...segment.originals]) this.maybeRemove(original);
    }
  }

  private async sync(segment: Segment): Promise<void> {
    if (segment.syncing) return;
    segment.syncing = true;
    try {
      while (segment.dirty && segment.handle !== undefined) {
        segment.dirty = false;
        const upTo = segment.writesDone;
        await (await segment.handle).datasync();
        segment.writesSynced = Math.max(segment.writesSynced, upTo);
      }
      // Writes since were empty (their events settled before): nothing more to sync.
      if (!segment.dirty) segment.writesSynced = segment.writesDone;
    } catch (error) {
      this.fail(error);
    } finally {
      segment.syncing = false;
    }
    this.maybeRemove(segment);
    for (const original of [...segment.originals]) this.maybeRemove(original);
  }

  /** Make a new file's directory entry durable (best effort: not every platform can open a directory). */
  private async syncDir(): Promise<void> {
    try {
      const dir = await open(this.dir, 'r');
      try {
        await dir.sync();
      } finally {
        await dir.close();
      }
    } catch {
      // Not supported here.
    }
  }

  /** Delete a segment whose events are all settled and that has no write or sync going on. */
  private maybeRemove(segment: Segment): void {
    if (segment.removed || segment.untracked > 0 || segment.live.size > 0) return;
    if (segment.writing || segment.syncing || segment.rewriting) return;
    const copy = segment.copy;
    if (copy !== undefined && !copy.removed && copy.writesSynced < segment.copyWrite) return;
    segment.pending.clear();
    if (segment.size === 0 && segment.handle === undefined && !segment.closed) return;
    this.rollOver(segment);
    segment.removed = true;
    this.segments.delete(segment);
    this.removing.add(segment);
    this.releaseCopy(segment);
    const handle = segment.handle;
    segment.handle = undefined;
    const removal = (async () => {
      try {
        await (await handle)?.close();
      } catch {
        // already closed
      }
      if (!segment.unlinked) {
        try {
          await unlink(segment.path);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ENOENT') this.report(error);
        }
        this.unlinked(segment);
      }
      this.freeing.delete(segment);
      if (this.size > this.maxBytes - 2 * this.segmentBytes) this.evictOldest();
      this.admitWaiting();
    })();
    this.removals.add(removal);
    void removal.finally(() => this.removals.delete(removal));
  }

  /**
   * A segment is going: it no longer waits for its copy, and the segments compacted into it no longer
   * wait for it (each may go now).
   */
  private releaseCopy(segment: Segment): void {
    const copy = segment.copy;
    if (copy !== undefined) {
      const at = copy.originals.indexOf(segment);
      if (at >= 0) copy.originals.splice(at, 1);
    }
    for (const original of [...segment.originals]) this.maybeRemove(original);
  }

  /** A segment's file is gone: its bytes no longer count against the budget (they did until now). */
  private unlinked(segment: Segment): void {
    if (segment.unlinked) return;
    segment.unlinked = true;
    this.removing.delete(segment);
    this.freeing.delete(segment);
    this.grow(segment, -segment.size);
  }

  private fail(error: unknown): void {
    if (this.failed) return;
    this.failed = true;
    this.report(
      new Error(
        `alm-otel spool: writing to ${this.dir} failed, events are kept in memory only from now on: ${(error as Error).message}`,
      ),
    );
  }
}
