// Lines of a text stream that arrives in chunks (a gunzip set to UTF-8): the one splitter of the
// gzipped NDJSON files, the backup manifest (src/lifecycle/manifest-stream.ts) and the tar file list
// (plugins/tar/file-list.ts). It copies nothing it need not: a line inside one chunk is one slice of
// it, a line across chunks is joined once it ends, and a chunk without a line end (a format-1
// manifest is one long line) is only appended to the partial line. Empty lines are skipped.
// take() answers from the chunk at hand, synchronously, so a reader awaits once per chunk, not per line.

// Returned by take() when the chunk at hand is used up and fill() must be awaited.
export const MORE = Symbol('more');

export class LineReader {
  private chunk = '';
  private at = 0;
  // The start of a line whose end is in a later chunk.
  private rest = '';
  private ended = false;

  // `maxLine`: the longest line allowed (in UTF-16 units); a longer one, or a partial line already
  // longer, throws (a planted file must not fill memory). Unbounded when not given.
  constructor(
    private readonly chunks: AsyncIterator<string>,
    private readonly maxLine = Infinity,
  ) {}

  // The next non-empty line (without its '\n') when the chunk at hand holds its end; MORE when fill()
  // must run first; undefined at the end of the data (the last line needs no '\n').
  take(): string | typeof MORE | undefined {
    for (;;) {
      const newline = this.chunk.indexOf('\n', this.at);
      if (newline < 0) break;
      let line = this.chunk.slice(this.at, newline);
      this.at = newline + 1;
      if (this.rest !== '') {
        line = this.rest + line;
        this.rest = '';
      }
      if (line.length > this.maxLine) throw this.tooLong();
      if (line !== '') return line;
    }
    if (this.at < this.chunk.length) {
      this.rest += this.at === 0 ? this.chunk : this.chunk.slice(this.at);
      if (this.rest.length > this.maxLine) throw this.tooLong();
    }
    this.chunk = '';
    this.at = 0;
    if (!this.ended) return MORE;
    const last = this.rest;
    this.rest = '';
    return last === '' ? undefined : last;
  }

  // Reads the next chunk (errors of the stream pass through as they are).
  async fill(): Promise<void> {
    if (this.ended) return;
    // What is left of the chunk at hand is kept as the partial line.
    if (this.at < this.chunk.length) this.rest += this.chunk.slice(this.at);
    const next = await this.chunks.next();
    if (next.done) {
      this.ended = true;
      this.chunk = '';
    } else this.chunk = next.value;
    this.at = 0;
  }

  // The next non-empty line, undefined at the end.
  async next(): Promise<string | undefined> {
    for (;;) {
      const line = this.take();
      if (line !== MORE) return line;
      await this.fill();
    }
  }

  private tooLong(): Error {
    return new Error(`a line longer than ${this.maxLine} bytes`);
  }
}
