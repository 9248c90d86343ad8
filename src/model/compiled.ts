// What one stored resource means for the model, once compiled: the parts a snapshot is assembled from.
import type { LinkerdAuthorizationPart } from './linkerd-authorization-types.ts';
import type {
  AuthorizationPolicyModel,
  DestinationRuleModel,
  GatewayApiRouteModel,
  GatewayModel,
  HttpRouteGroupModel,
  IdentityRateLimitModel,
  MatchedTrafficSplitModel,
  MeshConfigModel,
  PeerAuthenticationModel,
  RateLimitModel,
  ReferenceGrantModel,
  RequestAuthenticationModel,
  Service,
  ServiceProfileModel,
  SidecarModel,
  TelemetryModel,
  TrafficTargetModel,
  VirtualServiceModel,
  Workload,
} from './types.ts';

/** What reading a resource's spec yields for the model (config/ produces it; model/ only declares it). */
export type CompiledSpec =
  | { kind: 'VirtualService'; virtualService: VirtualServiceModel }
  | { kind: 'DestinationRule'; destinationRule: DestinationRuleModel }
  | { kind: 'ServiceEntry'; services: Service[] }
  | { kind: 'WorkloadEntry'; workload: Workload }
  | { kind: 'PeerAuthentication'; peerAuthentication: PeerAuthenticationModel }
  | { kind: 'AuthorizationPolicy'; authorizationPolicy: AuthorizationPolicyModel }
  | { kind: 'RequestAuthentication'; requestAuthentication: RequestAuthenticationModel }
  | { kind: 'TrafficTarget'; trafficTarget: TrafficTargetModel }
  | { kind: 'HTTPRouteGroup'; httpRouteGroup: HttpRouteGroupModel }
  | { kind: 'TrafficSplit'; matchedSplit: MatchedTrafficSplitModel }
  | { kind: 'Gateway'; gateway: GatewayModel }
  | { kind: 'HTTPRoute'; route: GatewayApiRouteModel }
  | { kind: 'GRPCRoute'; route: GatewayApiRouteModel }
  | { kind: 'TCPRoute'; route: GatewayApiRouteModel }
  | { kind: 'TLSRoute'; route: GatewayApiRouteModel }
  | { kind: 'ReferenceGrant'; referenceGrant: ReferenceGrantModel }
  /** Stored for `weft get`; the model does not use it (weft serves its classes by name). */
  | { kind: 'GatewayClass'; gatewayClass: { name: string; controllerName: string } }
  | { kind: 'MeshConfig'; meshConfig: MeshConfigModel }
  | { kind: 'Telemetry'; telemetry: TelemetryModel }
  | { kind: 'Sidecar'; sidecar: SidecarModel }
  | { kind: 'RateLimit'; rateLimit: RateLimitModel }
  | { kind: 'HTTPLocalRateLimitPolicy'; identityRateLimit: IdentityRateLimitModel }
  | { kind: 'ServiceProfile'; serviceProfile: ServiceProfileModel }
  /** Linkerd Server, MeshTLSAuthentication, NetworkAuthentication, AuthorizationPolicy, ServerAuthorization. */
  | { kind: 'LinkerdAuthorization'; part: LinkerdAuthorizationPart };

/** The meaning of one resource, or why it has none (it no longer validates). */
export type CompileResult =
  | { outcome: 'compiled'; compiled: CompiledSpec }
  | { outcome: 'rejected'; issues: string[] };

/** One stored resource with its compiled meaning: what a snapshot's config part is assembled from. */
export interface CompiledResource {
  kind: string;
  namespace: string;
  name: string;
  /** RFC 3339 creation time; the oldest resource wins ties (absent counts as newest). */
  creationTimestamp?: string;
  result: CompileResult;
}
