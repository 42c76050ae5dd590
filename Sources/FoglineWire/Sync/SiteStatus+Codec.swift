/// The site status an uplink holder sends with its hello (`SyncHello.status`), as the aggregator
/// stores it: encoded on its own, decoded when the HTTP API shows it.
extension Fogline_V1_SiteStatus {
    /// The message's protobuf encoding.
    public var encoded: [UInt8] { ProtobufIO.serialize(self) }

    /// Decodes a stored status.
    public init(encoded bytes: [UInt8], limits: DecodeLimits = DecodeLimits()) throws(WireError) {
        self = try ProtobufIO.parse(bytes, limits: limits)
    }
}
