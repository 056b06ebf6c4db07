// What a listing must be to be trusted: keys in strictly increasing order (S3 lists in UTF-8
// binary order) and continuation tokens that never repeat. A server that breaks either would
// make the listing loop forever or hand out objects twice; the run fails with a clear message.
import { ListingError } from './errors.js';

export class ListingOrder {
  private readonly tokens = new Set<string>();
  private lastKey: Buffer | undefined;
  private lastKeyText = '';

  constructor(private readonly what: string) {}

  /** Checks one page, in order, against all the pages before it. */
  check(page: { objects: readonly { key: string }[]; nextToken: string | undefined }): void {
    for (const { key } of page.objects) {
      const k = Buffer.from(key, 'utf8');
      if (this.lastKey && Buffer.compare(k, this.lastKey) <= 0) {
        throw new ListingError(`the listing of ${this.what} is out of order: ${JSON.stringify(key.slice(0, 200))} came after ${JSON.stringify(this.lastKeyText.slice(0, 200))}; the server's listing cannot be trusted`);
      }
      this.lastKey = k;
      this.lastKeyText = key;
    }
    if (page.nextToken !== undefined) {
      if (this.tokens.has(page.nextToken)) throw new ListingError(`the listing of ${this.what} repeats a continuation token after ${this.tokens.size} pages; stopping instead of listing forever`);
      this.tokens.add(page.nextToken);
    }
  }
}
