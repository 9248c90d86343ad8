// Bookinfo ratings: the stars each reviewer gave, at GET /ratings/:id. FAIL_PERCENT=n makes n% of answers a 500 (for the retries demo).
import { sendJson, serve } from './common.ts';

const FAIL_PERCENT = Number(process.env.FAIL_PERCENT || 0);

serve('ratings', (req, res) => {
  const match = /^\/ratings\/(\d+)$/.exec(req.url ?? '');
  if (req.url === '/health') return sendJson(res, 'ratings', 200, { status: 'Ratings is healthy' });
  if (!match) return sendJson(res, 'ratings', 404, { error: 'please use /ratings/:id' });
  if (Math.random() * 100 < FAIL_PERCENT)
    return sendJson(res, 'ratings', 500, { error: `failed on purpose (FAIL_PERCENT=${FAIL_PERCENT})` });
  sendJson(res, 'ratings', 200, { id: Number(match[1]), ratings: { Reviewer1: 5, Reviewer2: 4 } });
});
