/// The token an HTTP API requires in `Authorization: Bearer <token>` (RFC 6750), compared in
/// constant time so that response timing does not reveal how much of a guess was right.
public struct BearerToken: Sendable {
    private let expected: [UInt8]

    /// The shortest token accepted: guessing one must be hopeless (`openssl rand -hex 32` gives 64).
    public static let minimumLength = 16

    /// A token of at least ``minimumLength`` characters, or nil.
    public init?(_ token: String) {
        let bytes = Array(token.utf8)
        guard bytes.count >= Self.minimumLength else { return nil }
        expected = bytes
    }

    /// The token configured in `source` (nil when there is none). `name` names it in the error
    /// for a token too short to be unguessable, e.g. "the admin token".
    public static func read(from source: SecretSource?, name: String) throws(SecretError) -> BearerToken? {
        guard let source else { return nil }
        let text = try source.text()
        guard let token = BearerToken(text) else {
            throw SecretError(
                source: source,
                problem: "\(name) has \(text.utf8.count) characters and must have at least \(minimumLength) to be unguessable (make one with `openssl rand -hex 32`)")
        }
        return token
    }

    /// Why a request to an API guarded by `token` is refused (nil: it may go on). `GET /healthz`
    /// stays open: probes carry no token, and it tells only whether the server runs. `owner`
    /// names whose token it is ("this node", "this aggregator") in the problem.
    public static func refusal(method: String, path: String, authorization: String?, token: BearerToken?, owner: String) -> String? {
        let route = path.split(separator: "?", maxSplits: 1).first.map(String.init) ?? path
        guard let token, !(method == "GET" && route == "/healthz"), !token.authorizes(authorization) else { return nil }
        return authorization == nil ? "no Authorization header" : "the token is not \(owner)'s"
    }

    /// Whether an `Authorization` header value carries this token. The scheme is matched
    /// case-insensitively; the token itself exactly.
    public func authorizes(_ authorization: String?) -> Bool {
        guard let authorization else { return false }
        let scheme = "bearer "
        let bytes = Array(authorization.utf8)
        guard bytes.count > scheme.utf8.count,
            String(decoding: bytes[..<scheme.utf8.count], as: UTF8.self).lowercased() == scheme
        else { return false }
        let presented = bytes[scheme.utf8.count...].drop { $0 == UInt8(ascii: " ") }
        return Self.constantTimeEquals(Array(presented), expected)
    }

    /// Equal contents, in time that depends only on the lengths: every byte of `expected` is
    /// looked at whatever the first difference.
    public static func constantTimeEquals(_ presented: [UInt8], _ expected: [UInt8]) -> Bool {
        var difference = UInt8(truncatingIfNeeded: presented.count ^ expected.count) | (presented.count == expected.count ? 0 : 1)
        for index in expected.indices {
            let byte = index < presented.count ? presented[index] : 0
            difference |= byte ^ expected[index]
        }
        return difference == 0
    }
}

/// Whether an HTTP API bound to `host` is reachable from other machines: anything but a loopback
/// address (`127.0.0.0/8`, `::1`, `localhost`) is.
public enum ListenAddress {
    /// The configuration problem of an API (`api`, e.g. "the admin API") set to listen on
    /// `host:port` (the `section.listen` key) without a token, when other machines can reach it;
    /// nil on loopback or with a token. The token comes from `section.token_file` or `variable`.
    public static func tokenProblem(api: String, section: String, host: String, port: Int, hasToken: Bool, variable: String) -> String? {
        guard !hasToken, !isLoopback(host) else { return nil }
        return "\(section).listen \(host):\(port) is reachable from other machines, so \(api) needs a token: set \(section).token_file or \(variable) (clients then send Authorization: Bearer TOKEN), or listen on 127.0.0.1"
    }

    public static func isLoopback(_ host: String) -> Bool {
        let lowered = host.lowercased()
        if lowered == "localhost" || lowered == "::1" || lowered == "0:0:0:0:0:0:0:1" { return true }
        let octets = lowered.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets[0] == "127" && octets.allSatisfy { UInt8($0) != nil }
    }
}
