public import FoglineCore

extension SiteTelemetryStats {
    /// `{"received", "compacted", "duplicates", "gaps", "lastSeq"}` as both APIs serve it.
    public var json: JSONValue {
        .object([
            (key: "received", value: .number(Double(received))),
            (key: "compacted", value: .number(Double(compacted))),
            (key: "duplicates", value: .number(Double(duplicates))),
            (key: "gaps", value: .number(Double(gaps))),
            (key: "lastSeq", value: lastSeq.map { .number(Double($0)) } ?? .null),
        ])
    }
}
