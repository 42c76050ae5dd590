public import FoglineCore
public import FoglineWire

/// The quorum routes of the edge admin API (DESIGN.md, "Commands, APIs and configuration"), as
/// two pure halves around the shell's `await quorum.perform(operation, key:)`: ``route(_:)``
/// turns a request into a register operation, ``response(to:)`` turns its outcome into HTTP.
///
/// - `GET /v1/kv/{key}` → 200 `{"value": …, "version": N}` (404 with version 0 if never written)
/// - `POST /v1/kv/{key}` with `{"expected_version": N, "value": …}` → 200 with the new version,
///   409 with the current value and version
/// - `POST /v1/leases/{key}/acquire` with `{"holder": …, "ttl_ms": …}`, `…/renew` with
///   `{"holder", "token", "ttl_ms"}`, `…/release` with `{"holder", "token"}` → 200
///   `{"holder", "token", "ttl_ms"}` (ttl_ms: how long the holder may act from its request), or
///   409 with the current holder
/// - no quorum → 503 within the operation timeout; an outcome that is not known → 503 saying so.
///
/// Keys live in their own namespaces (`kv/…`, `lease/…`), apart from the node's own shard and
/// role leases.
public enum QuorumRoutes {
    /// A request the quorum should run.
    public enum Route: Equatable, Sendable {
        case operation(RegisterOperation, key: String)
        /// The request is malformed: answer this without asking the quorum.
        case invalid(AdminResponse)
    }

    /// Longest key accepted (bytes).
    public static let maxKeyBytes = 256
    /// Longest value accepted (bytes of JSON).
    public static let maxValueBytes = 64 * 1_024
    public static let ttlRange: ClosedRange<Double> = 100...3_600_000

    /// The route for `request`, or nil when the path is not a quorum route.
    public static func route(_ request: AdminRequest) -> Route? {
        let path = request.path.split(separator: "?", maxSplits: 1).first.map(String.init) ?? request.path
        let segments = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard segments.count >= 4, segments[0].isEmpty, segments[1] == "v1", segments[2] == "kv" || segments[2] == "leases" else {
            return nil
        }
        if segments[2] == "kv" {
            let key = segments[3...].joined(separator: "/")
            if let problem = keyProblem(key) { return .invalid(.error(400, problem)) }
            switch request.method {
            case "GET": return .operation(.read, key: "kv/" + key)
            case "POST": return compareAndSet(key: key, body: request.body)
            default: return .invalid(.error(405, "\(request.method) \(path): use GET to read a key and POST to compare-and-set it"))
            }
        }
        guard segments.count >= 5, let action = segments.last, ["acquire", "renew", "release"].contains(action) else {
            return .invalid(.error(404, "no route \(request.method) \(path): use POST /v1/leases/{key}/acquire, renew or release"))
        }
        let key = segments[3..<(segments.count - 1)].joined(separator: "/")
        if let problem = keyProblem(key) { return .invalid(.error(400, problem)) }
        guard request.method == "POST" else { return .invalid(.error(405, "lease operations are POST requests")) }
        return lease(action, key: key, body: request.body)
    }

    /// The HTTP answer for the outcome of a routed operation.
    public static func response(to outcome: RegisterOutcome) -> AdminResponse {
        switch outcome {
        case .value(let value):
            return .json(value.content == .absent ? 404 : 200, kvJSON(value))
        case .written(let value):
            return .json(200, kvJSON(value))
        case .conflict(let value):
            var body = kvJSON(value).objectMembers ?? []
            body.append((key: "error", value: .string("version mismatch: the key is at version \(value.version); read it and retry with that expected_version")))
            return .json(409, .object(body))
        case .granted(let record, let validFor):
            return .json(200, leaseJSON(record, ttl: validFor))
        case .held(let record, let remaining):
            var body = leaseJSON(record, ttl: remaining).objectMembers ?? []
            body.append((key: "error", value: .string("the lease is held by \(record.holder ?? "someone else")")))
            return .json(409, .object(body))
        case .released(let record):
            return .json(200, .object([
                (key: "holder", value: .null), (key: "token", value: .number(Double(record.token))), (key: "released", value: .bool(true)),
            ]))
        case .notHolder(let record):
            var body: [(key: String, value: JSONValue)] = [(key: "error", value: .string("not the holder of that lease grant"))]
            if let record { body += leaseJSON(record, ttl: 0).objectMembers ?? [] }
            return .json(409, .object(body))
        case .invalid(let why):
            return .error(409, why)
        case .unavailable(let why):
            return .error(503, "no quorum: \(why). Nothing was changed; check the other nodes (fogline-edge status) and retry.")
        case .indeterminate(let why):
            return .error(503, "outcome unknown: \(why). Read the key (or retry the lease operation) to find out.")
        }
    }

    // MARK: Private

    private static func keyProblem(_ key: String) -> String? {
        guard !key.isEmpty, key.utf8.count <= maxKeyBytes else {
            return "a key is 1 to \(maxKeyBytes) bytes long"
        }
        let allowed = key.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "-"), UInt8(ascii: "/"):
                true
            default: false
            }
        }
        return allowed ? nil : "a key may only contain A-Z, a-z, 0-9, '_', '.', '-' and '/'"
    }

    /// The request body as a JSON object, or the 400 response that says why it is not one.
    private static func body(_ bytes: [UInt8]) -> (json: JSONValue?, problem: AdminResponse?) {
        do {
            let value = try StrictJSON.parse(bytes, limits: JSONLimits(maxBytes: maxValueBytes + 1_024))
            guard value.objectMembers != nil else { return (nil, .error(400, "the body must be a JSON object")) }
            return (value, nil)
        } catch {
            return (nil, .error(400, "the body is not valid JSON: \(error.description)"))
        }
    }

    private static func compareAndSet(key: String, body bytes: [UInt8]) -> Route {
        let (parsed, problem) = body(bytes)
        guard let json = parsed else { return .invalid(problem!) }
        guard let expected = json["expected_version"]?.exactIntegerValue, expected >= 0 else {
            return .invalid(.error(400, "`expected_version` (a whole number, 0 for a new key) is required"))
        }
        guard let value = json["value"] else { return .invalid(.error(400, "`value` (any JSON) is required")) }
        let encoded = value.serialized()
        guard encoded.count <= maxValueBytes else { return .invalid(.error(413, "`value` is larger than \(maxValueBytes) bytes")) }
        return .operation(.compareAndSet(expectedVersion: UInt64(expected), value: encoded), key: "kv/" + key)
    }

    private static func lease(_ action: String, key: String, body bytes: [UInt8]) -> Route {
        let (parsed, problem) = body(bytes)
        guard let json = parsed else { return .invalid(problem!) }
        guard let holder = json["holder"]?.stringValue, !holder.isEmpty, holder.utf8.count <= 128 else {
            return .invalid(.error(400, "`holder` (a non-empty string of at most 128 bytes) is required"))
        }
        let ttl = json["ttl_ms"]?.numberValue
        if action != "release" {
            guard let ttl, ttlRange.contains(ttl), ttl == ttl.rounded() else {
                return .invalid(.error(400, "`ttl_ms` (whole milliseconds from \(Int(ttlRange.lowerBound)) to \(Int(ttlRange.upperBound))) is required"))
            }
        }
        let key = "lease/" + key
        if action == "acquire" {
            return .operation(.acquireLease(holder: holder, ttlMilliseconds: UInt64(ttl!)), key: key)
        }
        guard let token = json["token"]?.exactIntegerValue, token > 0 else {
            return .invalid(.error(400, "`token` (the fencing token from acquire) is required"))
        }
        if action == "renew" {
            return .operation(.renewLease(holder: holder, token: UInt64(token), ttlMilliseconds: UInt64(ttl!)), key: key)
        }
        return .operation(.releaseLease(holder: holder, token: UInt64(token)), key: key)
    }

    private static func kvJSON(_ value: RegisterValue) -> JSONValue {
        var stored: JSONValue = .null
        if case .data(let bytes) = value.content, let parsed = try? StrictJSON.parse(bytes, limits: JSONLimits(maxBytes: maxValueBytes + 1_024)) {
            stored = parsed
        }
        return .object([(key: "value", value: stored), (key: "version", value: .number(Double(value.version)))])
    }

    private static func leaseJSON(_ record: LeaseRecord, ttl: UInt64) -> JSONValue {
        .object([
            (key: "holder", value: record.holder.map(JSONValue.string) ?? .null),
            (key: "token", value: .number(Double(record.token))),
            (key: "ttl_ms", value: .number(Double(ttl))),
        ])
    }
}
