/// An HTTP response of Fogline's JSON APIs (the edge admin API and the cloud API): status and a
/// JSON (or Prometheus text) body.
public struct APIResponse: Sendable, Equatable {
    public var status: Int
    public var contentType: String
    public var body: [UInt8]

    public init(status: Int, contentType: String, body: [UInt8]) {
        self.status = status
        self.contentType = contentType
        self.body = body
    }

    public static func json(_ status: Int, _ value: JSONValue) -> APIResponse {
        APIResponse(status: status, contentType: "application/json", body: value.serialized() + [UInt8(ascii: "\n")])
    }

    /// An error body that says what went wrong and what to do: `{"error": "..."}`.
    public static func error(_ status: Int, _ message: String) -> APIResponse {
        json(status, .object([(key: "error", value: .string(message))]))
    }
}
