// Progress bars fit the terminal (review finding 6 of issue 14): on 80 columns the ETA and the rate stay,
// the bar and the label shrink first; a finished bar's rate stops falling.
import { describe, expect, it } from 'vitest';
import { renderBar } from '../../src/log/progress.js';

const MiB = 1024 * 1024;

describe('progress bars fit the terminal width (review finding 6)', () => {
  it('a long label on 79 columns: the bar shrinks, percentage, bytes, rate and ETA stay whole', () => {
    const bar = { label: 'mp: snapshot pass', done: 12 * MiB, total: 114 * MiB, started: 0 };
    const line = renderBar(bar, 1200, 79);
    expect(line).toBe('mp: snapshot pass [##..............]  10%  12 MiB / 114 MiB  10 MiB/s  ETA 0:10');
    expect(line.length).toBeLessThanOrEqual(79);
  });

  it('narrower still: the label is cut, then the bar and the byte counts go; percentage, rate and ETA stay', () => {
    const bar = { label: 'a-very-long-module-name: snapshot offsite-bucket', done: 12 * MiB, total: 114 * MiB, started: 0 };
    expect(renderBar(bar, 1200, 79)).toBe('a-very-long-module-name: sn… [#....]  10%  12 MiB / 114 MiB  10 MiB/s  ETA 0:10');
    expect(renderBar(bar, 1200, 66)).toBe('a-very-long-mo… [#....]  10%  12 MiB / 114 MiB  10 MiB/s  ETA 0:10');
    expect(renderBar(bar, 1200, 50)).toBe('a-very…  10%  12 MiB / 114 MiB  10 MiB/s  ETA 0:10');
    expect(renderBar(bar, 1200, 30)).toBe('a-ve…  10%  10 MiB/s  ETA 0:10');
    expect(renderBar(bar, 1200, 20)).toBe('10%  10 MiB/s  ETA 0');
    for (const width of [20, 30, 50, 66, 79]) expect(renderBar(bar, 1200, width).length).toBeLessThanOrEqual(width);
  });

  it("a finished bar's rate is the rate it finished at", () => {
    const bar = { label: 'm: manifest', done: 10 * MiB, total: 10 * MiB, started: 0, finished: 2000 };
    expect(renderBar(bar, 60_000, 79)).toBe('m: manifest [####################] 100%  10 MiB / 10 MiB  5.0 MiB/s  ETA 0:00');
  });
});
