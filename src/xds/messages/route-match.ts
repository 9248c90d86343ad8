// Typed shapes of the request matchers of `envoy.config.route.v3` (RouteMatch, HeaderMatcher, QueryParameterMatcher), shared by routes and HTTP filters.
import type { BoolValue, Empty, RegexMatcher, StringMatcher } from './core.ts';

/** `HeaderMatcher`. `string_match` is the current form; the others are the deprecated forms gRPC clients before gRFC A63 need. */
export type HeaderMatcher = { name: string; invert_match?: boolean } & (
  | { string_match: StringMatcher }
  | { present_match: boolean }
  | { exact_match: string }
  | { prefix_match: string }
  | { suffix_match: string }
  | { safe_regex_match: RegexMatcher }
);

/** `QueryParameterMatcher`. */
export type QueryParameterMatcher = { name: string } & (
  | { string_match: StringMatcher }
  | { present_match: boolean }
);

/** `RouteMatch`: one path specifier, then conditions. */
export type RouteMatch = (
  | { prefix: string }
  | { path: string }
  | { safe_regex: RegexMatcher }
  | { connect_matcher: Empty }
) & {
  case_sensitive?: BoolValue;
  headers?: HeaderMatcher[];
  query_parameters?: QueryParameterMatcher[];
};
