import * as hdr from 'hdr-histogram-js';

/** Latency histogram: 1 µs to 10 min at 3 significant digits. */
export function newHistogram(): hdr.Histogram {
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 600_000_000,
    numberOfSignificantValueDigits: 3,
  });
}
