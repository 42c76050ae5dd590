import NIOCore
import NIOHTTP1
import NIOPosix

/// A small HTTP/1.1 server for the admin API on SwiftNIO: it parses requests (bodies capped at
/// `maxBodyBytes`), passes each to `handler`, and writes the response. Keep-alive is honoured.
public final class AdminHTTPServer: Sendable {
    public typealias Handler = @Sendable (AdminRequest) async -> AdminResponse

    private let channel: NIOAsyncChannel<NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, Never>
    /// The bound port (useful with port 0 in tests).
    public let port: Int
    public static let maxBodyBytes = 1 << 20

    /// Binds `host:port`. Throws a clear error when the address is taken or not local.
    public init(host: String, port: Int) async throws {
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: host, port: port) { child in
                child.eventLoop.makeCompletedFuture {
                    try child.pipeline.syncOperations.configureHTTPServerPipeline()
                    return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(wrappingChannelSynchronously: child)
                }
            }
        self.port = channel.channel.localAddress?.port ?? port
    }

    /// Serves until the task is cancelled or `close()` is called.
    public func run(handler: @escaping Handler) async throws {
        try await withThrowingDiscardingTaskGroup { group in
            try await channel.executeThenClose { inbound in
                for try await connection in inbound {
                    group.addTask { await Self.serve(connection, handler) }
                }
            }
        }
    }

    public func close() async {
        try? await channel.channel.close()
    }

    private static func serve(
        _ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, _ handler: Handler
    ) async {
        try? await connection.executeThenClose { inbound, outbound in
            var head: HTTPRequestHead?
            var body: [UInt8] = []
            var tooLarge = false
            for try await part in inbound {
                switch part {
                case .head(let requestHead):
                    head = requestHead
                    body = []
                    tooLarge = false
                case .body(var buffer):
                    if body.count + buffer.readableBytes > maxBodyBytes {
                        tooLarge = true
                    } else if let bytes = buffer.readBytes(length: buffer.readableBytes) {
                        body += bytes
                    }
                case .end:
                    guard let requestHead = head else { continue }
                    let response = tooLarge
                        ? AdminResponse.error(413, "the request body is larger than \(maxBodyBytes) bytes")
                        : await handler(AdminRequest(
                            method: requestHead.method.rawValue, path: requestHead.uri, body: body,
                            authorization: requestHead.headers["Authorization"].first))
                    var headers = HTTPHeaders()
                    if response.status == 401 { headers.add(name: "WWW-Authenticate", value: #"Bearer realm="fogline-edge""#) }
                    headers.add(name: "Content-Type", value: response.contentType)
                    headers.add(name: "Content-Length", value: String(response.body.count))
                    if !requestHead.isKeepAlive { headers.add(name: "Connection", value: "close") }
                    try await outbound.write(.head(HTTPResponseHead(
                        version: requestHead.version, status: HTTPResponseStatus(statusCode: response.status), headers: headers)))
                    try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: response.body))))
                    try await outbound.write(.end(nil))
                    if !requestHead.isKeepAlive { return }
                    head = nil
                }
            }
        }
    }
}
