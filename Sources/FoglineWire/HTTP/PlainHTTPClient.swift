// A minimal blocking HTTP/1.1 client for Fogline's own JSON APIs (the edge admin API, the cloud
// API): plain HTTP, one request per connection.
//
// Why not URLSession: on Linux it lives in FoundationNetworking, which links libcurl and with it
// GnuTLS, nettle, Kerberos, LDAP, libssh and more. Linking it into fogline-edge maps those
// libraries into the daemon too (about 10 MB of resident file pages measured with
// /proc/PID/smaps_rollup), although only the `status` tool ever used them. The APIs are plain
// HTTP on a known address, so a blocking socket and a small response parser are enough.
// (fogline-edge's tools and `fogline-cloud dash` use it; the dashboard calls it from its own
// fetch thread, never from Swift's cooperative pool.)

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Talks to a running Fogline HTTP API: one request per connection (`Connection: close`), so
/// the response ends when the server closes it unless it says `Content-Length`.
///
/// Used by the `fogline-edge` tools (`status`, and the `kv`/`lease` commands) as
/// `try PlainHTTPClient(address: "127.0.0.1:8080").get("/v1/status")`, and by the dashboard.
public struct PlainHTTPClient: Sendable {
    /// An HTTP response: status code and body bytes.
    public struct Response: Sendable {
        public var status: Int
        public var body: [UInt8]

        /// The body as UTF-8 text.
        public var text: String { String(decoding: body, as: UTF8.self) }
    }

    /// What went wrong, as a sentence that says what to check.
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    public let host: String
    public let port: UInt16
    /// Seconds a connect, send or receive may block.
    public var timeoutSeconds = 10
    /// A bearer token, sent as `Authorization: Bearer …` when set (the admin API's token).
    public var token: String?

    /// - Parameter address: `HOST:PORT`, as `--admin` and `admin.listen` take it.
    public init(address: String) throws(Failure) {
        guard let colon = address.lastIndex(of: ":"), let port = UInt16(address[address.index(after: colon)...]) else {
            throw Failure(description: "The address \(address) is not HOST:PORT (e.g. 127.0.0.1:8080).")
        }
        var host = String(address[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        self.host = host.isEmpty ? "127.0.0.1" : host
        self.port = port
    }

    /// `GET path`.
    public func get(_ path: String) throws(Failure) -> Response {
        try request(method: "GET", path: path, body: nil)
    }

    /// `POST path` with a JSON body.
    public func post(_ path: String, jsonBody: [UInt8]) throws(Failure) -> Response {
        try request(method: "POST", path: path, body: jsonBody)
    }

    /// `PUT path` with a JSON body.
    public func put(_ path: String, jsonBody: [UInt8]) throws(Failure) -> Response {
        try request(method: "PUT", path: path, body: jsonBody)
    }

    /// Sends one request and reads the whole response.
    public func request(method: String, path: String, body: [UInt8]?) throws(Failure) -> Response {
        let fd = try openSocket()
        defer { close(fd) }
        var head = "\(method) \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nConnection: close\r\nAccept: application/json\r\n"
        if let token { head += "Authorization: Bearer \(token)\r\n" }
        if let body { head += "Content-Type: application/json\r\nContent-Length: \(body.count)\r\n" }
        head += "\r\n"
        try sendAll(fd, Array(head.utf8) + (body ?? []))
        return try Self.parse(try receiveAll(fd))
    }

    // MARK: Socket

    private func openSocket() throws(Failure) -> Int32 {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Glibc)
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
        hints.ai_socktype = SOCK_STREAM
        #endif
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let first = list else {
            throw Failure(description: "Cannot resolve \(host): \(String(cString: gai_strerror(status))).")
        }
        defer { freeaddrinfo(list) }
        var lastError: Int32 = 0
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let info = entry {
            entry = info.pointee.ai_next
            let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype, info.pointee.ai_protocol)
            guard fd >= 0 else {
                lastError = errno
                continue
            }
            setTimeouts(fd)
            if connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 { return fd }
            lastError = errno
            close(fd)
        }
        throw Failure(description: "Cannot connect to \(host):\(port): \(String(cString: strerror(lastError))).")
    }

    private func setTimeouts(_ fd: Int32) {
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        let size = socklen_t(MemoryLayout<timeval>.size)
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, size)
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, size)
    }

    private func sendAll(_ fd: Int32, _ bytes: [UInt8]) throws(Failure) {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent < 0 {
                if errno == EINTR { continue }
                throw Failure(description: "Sending to \(host):\(port) failed: \(String(cString: strerror(errno))).")
            }
            offset += sent
        }
    }

    private func receiveAll(_ fd: Int32) throws(Failure) -> [UInt8] {
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16_384)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count == 0 { return response }
            if count < 0 {
                if errno == EINTR { continue }
                throw Failure(description: "Reading from \(host):\(port) failed: \(String(cString: strerror(errno))).")
            }
            response += buffer[0..<count]
            // Stop once a Content-Length body is complete; a server may keep the socket open.
            if let expected = Self.expectedLength(response), response.count >= expected { return response }
        }
    }

    // MARK: Parsing

    /// Where the header block ends (index of the first body byte), if it has arrived.
    private static func headerEnd(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for index in 3..<bytes.count
        where bytes[index - 3] == 13 && bytes[index - 2] == 10 && bytes[index - 1] == 13 && bytes[index] == 10 {
            return index + 1
        }
        return nil
    }

    private static func headers(_ bytes: ArraySlice<UInt8>) -> (status: Int?, fields: [(String, String)]) {
        let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\r\n", omittingEmptySubsequences: true)
        let statusLine = lines.first?.split(separator: " ", maxSplits: 2) ?? []
        let status = statusLine.count >= 2 && statusLine[0].hasPrefix("HTTP/1.") ? Int(statusLine[1]) : nil
        let fields = lines.dropFirst().compactMap { line -> (String, String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (line[..<colon].lowercased(), line[line.index(after: colon)...].trimmingSpaces)
        }
        return (status, fields)
    }

    /// Total bytes of a response that declares `Content-Length`, once its header has arrived.
    private static func expectedLength(_ bytes: [UInt8]) -> Int? {
        guard let end = headerEnd(bytes) else { return nil }
        let fields = headers(bytes[..<end]).fields
        guard let length = fields.first(where: { $0.0 == "content-length" }).flatMap({ Int($0.1) }) else { return nil }
        return end + length
    }

    /// Parses a complete response (read until the server closed the connection).
    public static func parse(_ bytes: [UInt8]) throws(Failure) -> Response {
        guard let end = headerEnd(bytes) else {
            throw Failure(description: "The server closed the connection before a complete HTTP response header.")
        }
        let (status, fields) = headers(bytes[..<end])
        guard let status else { throw Failure(description: "The server did not answer with an HTTP/1.x status line.") }
        var body = Array(bytes[end...])
        if let length = fields.first(where: { $0.0 == "content-length" }).flatMap({ Int($0.1) }) {
            guard body.count >= length else {
                throw Failure(description: "The server closed the connection after \(body.count) of \(length) body bytes.")
            }
            body = Array(body[..<length])
        } else if fields.contains(where: { $0.0 == "transfer-encoding" && $0.1.lowercased().contains("chunked") }) {
            body = try dechunk(body)
        }
        return Response(status: status, body: body)
    }

    private static func dechunk(_ bytes: [UInt8]) throws(Failure) -> [UInt8] {
        var body: [UInt8] = []
        var index = 0
        while true {
            guard let lineEnd = (index..<max(index, bytes.count - 1)).first(where: { bytes[$0] == 13 && bytes[$0 + 1] == 10 }),
                let size = Int(String(decoding: bytes[index..<lineEnd], as: UTF8.self).split(separator: ";").first?.trimmingSpaces ?? "", radix: 16)
            else { throw Failure(description: "The server sent a malformed chunked body.") }
            let start = lineEnd + 2
            if size == 0 { return body }
            guard start + size <= bytes.count else { throw Failure(description: "The server sent a truncated chunked body.") }
            body += bytes[start..<(start + size)]
            index = start + size + 2
        }
    }
}

extension StringProtocol {
    fileprivate var trimmingSpaces: String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}
