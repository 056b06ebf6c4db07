// The descriptor an upload reads from, and the proof that what was read is one version of the
// file. The job may truncate or rewrite a file at any time; S3 must never end up with a mix.
// - At open, fstat must match the signature the caller stat'ed (else the file already moved on).
// - Before anything becomes an object (the single PutObject, or CompleteMultipartUpload) every
//   byte must have been read and fstat on the same descriptor must still show the same size,
//   mtime and ctime (ctime: a rewrite that puts the old mtime back still moves it). Otherwise the
//   upload is aborted (FileChangedError) and sent again once the file settles.
import type { BigIntStats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { NOT_REGULAR, openRegularNoFollow, type RegularFile } from '../util/open-beneath.js';

/** The local file changed under us (shorter than stat'ed, or rewritten): upload it again once it is stable. */
export class FileChangedError extends Error {
  constructor(path: string, detail: string) {
    super(`${path} changed during the upload (${detail})`);
    this.name = 'FileChangedError';
  }
}

/** Reading the local file failed (gone, permissions, a symlink swapped in): not the store's fault. */
export class LocalFileError extends Error {
  constructor(path: string, override readonly cause: NodeJS.ErrnoException) {
    super(`cannot read ${path}: ${cause.message}`);
    this.name = 'LocalFileError';
  }
  get code(): string | undefined {
    return this.cause.code;
  }
  /** BeneathOpener refused: the path leads outside the dir, or to no regular file */
  get swapped(): boolean {
    return ['ELOOP', 'ENOTDIR', NOT_REGULAR, 'ESTALE'].includes(this.code ?? '');
  }
}

export interface ExpectedSig {
  size: number;
  mtimeNs: string;
}

/** An open file and what fstat said of it when opened. */
export class LocalRead {
  private constructor(readonly fh: FileHandle, readonly path: string, private readonly at: BigIntStats) {}

  /** Open via `opener` (or the path itself, no symlink, regular files only); `sig`: what the caller stat'ed. */
  static async open(path: string, sig: ExpectedSig | undefined, opener?: () => Promise<RegularFile>): Promise<LocalRead> {
    let opened: RegularFile;
    try {
      opened = await (opener ? opener() : openRegularNoFollow(path));
    } catch (err) {
      throw new LocalFileError(path, err as NodeJS.ErrnoException);
    }
    const { fh, st } = opened;
    if (sig && (Number(st.size) !== sig.size || st.mtimeNs.toString() !== sig.mtimeNs)) {
      await fh.close().catch(() => {});
      throw new FileChangedError(path, 'size or mtime moved on before it was opened');
    }
    return new LocalRead(fh, path, st);
  }

  /** Throws FileChangedError unless size, mtime and ctime are what they were at open. */
  async assertUnchanged(): Promise<void> {
    const now = await this.fh.stat({ bigint: true });
    if (now.size !== this.at.size || now.mtimeNs !== this.at.mtimeNs || now.ctimeNs !== this.at.ctimeNs) {
      throw new FileChangedError(this.path, 'size, mtime or ctime moved on while it was read');
    }
  }

  close(): Promise<void> {
    return this.fh.close().catch(() => {});
  }
}

/** Exactly `into.length` bytes of `fh` from `offset`, or FileChangedError (the file is shorter now). */
export async function readExactly(fh: FileHandle, path: string, into: Buffer, offset: number): Promise<void> {
  let got = 0;
  while (got < into.length) {
    const { bytesRead } = await fh.read(into, got, into.length - got, offset + got).catch((err: NodeJS.ErrnoException) => {
      throw new LocalFileError(path, err);
    });
    if (bytesRead === 0) throw new FileChangedError(path, `ended at byte ${offset + got}, before the ${offset + into.length} read`);
    got += bytesRead;
  }
}
