public import FoglineConfig
import Hummingbird
import ServiceLifecycle
public import Logging

/// Serves ``CloudAPI`` over HTTP/1.1 with Hummingbird. Every request goes to one responder, so
/// unknown paths, wrong methods and errors all answer in the API's JSON form.
public struct CloudHTTPServer: Sendable {
    /// The largest request body read (a `desired` write is tiny).
    public static let maxBodyBytes = 64 << 10

    let api: CloudAPI
    let host: String
    let port: Int
    let token: BearerToken?
    let logger: Logger

    /// A server of `api` on `host:port` (port 0: any free port, see `onListening`). With `token`,
    /// every route but `GET /healthz` requires `Authorization: Bearer TOKEN`.
    public init(api: CloudAPI, host: String, port: Int, token: BearerToken? = nil, logger: Logger) {
        self.api = api
        self.host = host
        self.port = port
        self.token = token
        self.logger = logger
    }

    /// The 401 answer for a request without the token, or nil when it may go on.
    public static func refusal(method: String, path: String, authorization: String?, token: BearerToken?) -> CloudResponse? {
        BearerToken.refusal(method: method, path: path, authorization: authorization, token: token, owner: "this aggregator").map { problem in
            .error(401, "\(problem): send Authorization: Bearer TOKEN with the token of http.token_file or FOGLINE_API_TOKEN (fogline-cloud dash reads FOGLINE_API_TOKEN or --token-file)")
        }
    }

    /// Serves until the task is cancelled. `onListening` gets the bound port (useful with port 0).
    public func run(onListening: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        try await application(onListening: onListening).run()
    }

    /// The server as a service of a `ServiceGroup`, which shuts it down gracefully (requests in
    /// progress finish) on the group's signals.
    func application(onListening: @escaping @Sendable (Int) async -> Void) -> some Service {
        let api = self.api
        let token = self.token
        let responder = CallbackResponder<BasicRequestContext> { request, _ in
            var request = request
            let path = request.head.path ?? "/"
            if let refusal = Self.refusal(
                method: request.method.rawValue, path: path, authorization: request.headers[.authorization], token: token)
            {
                return Self.response(refusal)
            }
            let body: [UInt8]
            do {
                body = Array(buffer: try await request.collectBody(upTo: Self.maxBodyBytes))
            } catch {
                return Self.response(.error(413, "the request body is larger than \(Self.maxBodyBytes) bytes; send a smaller one"))
            }
            return Self.response(await api.handle(method: request.method.rawValue, path: path, body: body))
        }
        let app = Application(
            responder: responder,
            configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: "fogline-cloud"),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? 0) },
            logger: logger)
        return app
    }

    static func response(_ response: CloudResponse) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = response.contentType
        if response.status == 401 { headers[.wwwAuthenticate] = #"Bearer realm="fogline-cloud""# }
        return Response(
            status: HTTPResponse.Status(code: response.status), headers: headers,
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: response.body)))
    }
}
