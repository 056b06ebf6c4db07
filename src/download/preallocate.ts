// Reserve a large part file's blocks up front, as rclone does (fallocate(2)). On ext4, writing
// into a sparse file books every 4 KiB block on the way (delayed allocation: reservation, quota,
// extent-status entries, buffer heads), which cost more CPU than copying the bytes
// (docs/download.md, "Why the code is as it is"). Into blocks reserved by one fallocate, the writes only fill in pages.
// Node has no fallocate, so util-linux's fallocate(1) does it, on the file already open here
// (handed over as fd 3, so a symlink swapped in at the name is never followed). Only for objects
// fetched as ranges: one process per 64 MiB or more costs nothing next to the gain. Without the
// tool, or on a filesystem that cannot (some network filesystems), the file is only extended.
import { spawn } from 'node:child_process';
import type { FileHandle } from 'node:fs/promises';

/** One per download run: once the tool is found missing, the run stops looking for it. */
export class Preallocator {
  private missing = false;

  async preallocate(fh: FileHandle, size: number): Promise<void> {
    if (!this.missing && size > 0) {
      const ok = await new Promise<boolean>((resolve) => {
        const child = spawn('fallocate', ['--length', String(size), '/dev/fd/3'], { stdio: ['ignore', 'ignore', 'ignore', fh.fd] });
        child.on('error', (err: NodeJS.ErrnoException) => {
          if (err.code === 'ENOENT') this.missing = true;
          resolve(false);
        });
        child.on('exit', (code) => resolve(code === 0));
      });
      if (ok) return;
    }
    await fh.truncate(size);
  }
}
