// Bookinfo reviews at GET /reviews/:id. v1 shows no stars; v2 asks ratings and shows black stars; v3 red stars.
import { getJson, propagatedHeaders, sendJson, serve, VERSION } from './common.ts';

const REVIEWS = [
  {
    reviewer: 'Reviewer1',
    text: 'An extremely entertaining play by Shakespeare. The slapstick humour is refreshing!',
  },
  {
    reviewer: 'Reviewer2',
    text: 'Absolutely fun and entertaining. The play lacks thematic depth when compared to other plays by Shakespeare.',
  },
];

/** v2 and v3 show stars; their colours, and how long each waits for ratings (as in Istio's Bookinfo). */
const STARS: Record<string, { color: string; ratingsTimeoutMs: number }> = {
  v2: { color: 'black', ratingsTimeoutMs: 10_000 },
  v3: { color: 'red', ratingsTimeoutMs: 2_500 },
};

serve('reviews', async (req, res) => {
  const match = /^\/reviews\/(\d+)$/.exec(req.url ?? '');
  if (req.url === '/health') return sendJson(res, 'reviews', 200, { status: 'Reviews is healthy' });
  if (!match) return sendJson(res, 'reviews', 404, { error: 'please use /reviews/:id' });
  const id = Number(match[1]);
  const stars = STARS[VERSION];
  if (!stars) return sendJson(res, 'reviews', 200, { id, reviews: REVIEWS });

  const ratings = await getJson(
    `http://ratings/ratings/${id}`,
    propagatedHeaders(req),
    stars.ratingsTimeoutMs,
  );
  const given =
    ratings.outcome === 'answered' && ratings.status === 200
      ? (ratings.body.ratings as Record<string, number>)
      : undefined;
  sendJson(res, 'reviews', 200, {
    id,
    ratingsVersion: ratings.outcome === 'answered' ? ratings.version : undefined,
    reviews: REVIEWS.map((r) => ({
      ...r,
      rating: given
        ? { stars: given[r.reviewer], color: stars.color }
        : { error: 'Ratings service is currently unavailable' },
    })),
  });
});
