import Hummingbird
import Prometheus
import Synchronization

/// HTTP request counters and latencies by route, method and status, in the daemon's registry.
///
/// Labels stay bounded whatever clients send: the route is the matched pattern (`/a/{token}`, never the
/// token itself) or `unmatched`, the method one of the standard ones or `other`, the status a code the
/// server produced.
final class HTTPRequestMetrics: Sendable {
    private let registry: PrometheusCollectorRegistry
    private struct Key: Hashable {
        var route: String
        var method: String
        var status: Int
    }
    private let counters = Mutex<[Key: Counter]>([:])
    private let durations = Mutex<[String: DurationHistogram]>([:])

    static let requestsName = "invoiceflow_http_requests_total"
    static let durationName = "invoiceflow_http_request_duration_seconds"
    static let buckets: [Duration] = [
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5),
    ]

    init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
    }

    /// Counts one answered request and its duration.
    func record(route: String, method: HTTPRequest.Method, status: HTTPResponse.Status, duration: Duration) {
        let key = Key(route: route, method: Self.methodLabel(method), status: status.code)
        let counter = counters.withLock { counters in
            if let counter = counters[key] { return counter }
            let counter = registry.makeCounter(
                descriptor: .named(
                    Self.requestsName, help: "HTTP requests answered, by matched route, method and status code."),
                labels: [("route", key.route), ("method", key.method), ("status", "\(key.status)")])
            counters[key] = counter
            return counter
        }
        counter.increment()
        let histogram = durations.withLock { durations in
            if let histogram = durations[route] { return histogram }
            let histogram = registry.makeDurationHistogram(
                descriptor: .named(
                    Self.durationName,
                    help: "Time from receiving an HTTP request to handing over its response, by matched route."),
                labels: [("route", route)], buckets: Self.buckets)
            durations[route] = histogram
            return histogram
        }
        histogram.record(duration)
    }

    private static let knownMethods: Set<HTTPRequest.Method> = [.get, .head, .post, .put, .delete, .options, .patch]

    static func methodLabel(_ method: HTTPRequest.Method) -> String {
        knownMethods.contains(method) ? method.rawValue : "other"
    }
}

/// Records every request in ``HTTPRequestMetrics``; added to the router before any route.
struct HTTPMetricsMiddleware: RouterMiddleware {
    typealias Context = WebContext
    let metrics: HTTPRequestMetrics

    /// The matched route pattern, or `unmatched` (Hummingbird's not-found responder names its endpoint
    /// `NotFound`; no route of ours is called that).
    static func route(_ context: WebContext) -> String {
        guard let path = context.endpointPath, path != "NotFound" else { return "unmatched" }
        return path
    }

    func handle(
        _ request: Request, context: WebContext, next: (Request, WebContext) async throws -> Response
    ) async throws -> Response {
        let start = ContinuousClock.now
        do {
            let response = try await next(request, context)
            metrics.record(
                route: Self.route(context), method: request.method, status: response.status,
                duration: start.duration(to: .now))
            return response
        } catch {
            // Hummingbird turns the error into a response after the middleware chain; count what it will send.
            let status = (error as? any HTTPResponseError)?.status ?? .internalServerError
            metrics.record(
                route: Self.route(context), method: request.method, status: status,
                duration: start.duration(to: .now))
            throw error
        }
    }
}
