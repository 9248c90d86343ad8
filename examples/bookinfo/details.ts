// Bookinfo details: the book's facts (author, year, ISBN) at GET /details/:id.
import { sendJson, serve } from './common.ts';

serve('details', (req, res) => {
  const match = /^\/details\/(\d+)$/.exec(req.url ?? '');
  if (req.url === '/health') return sendJson(res, 'details', 200, { status: 'Details is healthy' });
  if (!match) return sendJson(res, 'details', 404, { error: 'please use /details/:id' });
  sendJson(res, 'details', 200, {
    id: Number(match[1]),
    author: 'William Shakespeare',
    year: 1595,
    type: 'paperback',
    pages: 200,
    publisher: 'PublisherA',
    language: 'English',
    'ISBN-10': '1234567890',
    'ISBN-13': '123-1234567890',
  });
});
