// Preload (`node --import bench/lib/alloc-sampler.ts`): samples every allocation, collected or not, and writes a .heapprofile on SIGINT.
//
// `--heap-prof` keeps only objects still alive at the end; per-request garbage is what young
// collections cost, so this asks the inspector's sampling heap profiler to include objects that
// minor and major GCs collected. The file (WEFT_ALLOC_PROF, Chrome DevTools' .heapprofile format)
// is written when the process gets SIGINT, which then exits.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';

const file = process.env.WEFT_ALLOC_PROF ?? `alloc-${process.pid}.heapprofile`;
const session = new Session();
session.connect();
session.post('HeapProfiler.startSampling', {
  samplingInterval: 4096,
  includeObjectsCollectedByMajorGC: true,
  includeObjectsCollectedByMinorGC: true,
});
process.prependListener('SIGINT', () => {
  session.post('HeapProfiler.stopSampling', (err, result) => {
    if (!err) writeFileSync(file, JSON.stringify(result.profile));
    process.exit(0);
  });
});
