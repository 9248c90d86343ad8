// Bookinfo ratings: the stars each reviewer gave, at GET /ratings/:id.
import { sendJson, serve } from './common.ts';

serve('ratings', (req, res) => {
  const match = /^\/ratings\/(\d+)$/.exec(req.url ?? '');
  if (req.url === '/health') return sendJson(res, 'ratings', 200, { status: 'Ratings is healthy' });
  if (!match) return sendJson(res, 'ratings', 404, { error: 'please use /ratings/:id' });
  sendJson(res, 'ratings', 200, { id: Number(match[1]), ratings: { Reviewer1: 5, Reviewer2: 4 } });
});
