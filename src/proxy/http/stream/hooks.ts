// The lifecycle hook points of an HTTP stream, for telemetry and hardening that watch every request.
// The interface lives with the stream's other shared types (stream-api.ts) so that nothing imports in a circle.
export type { ActiveStream, StreamHooks } from './stream-api.ts';
