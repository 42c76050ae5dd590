internal import SwiftProtobuf

/// The one place that calls SwiftProtobuf's binary codec, mapping its errors to ``WireError``.
enum ProtobufIO {
    static func serialize(_ message: some SwiftProtobuf.Message) -> [UInt8] {
        do {
            return try message.serializedBytes()
        } catch {
            // Only proto2 required fields and `Any` transcoding can fail; the schema has neither.
            preconditionFailure("serializing a \(type(of: message)) failed: \(error)")
        }
    }

    /// Parses `bytes` after checking their size against `limits.maxBytes`. Unknown fields are
    /// dropped (newer senders may add fields), nesting is bounded.
    static func parse<M: SwiftProtobuf.Message>(_ bytes: some Collection<UInt8>, limits: DecodeLimits) throws(WireError) -> M {
        guard bytes.count <= limits.maxBytes else {
            throw .limitExceeded(what: "frame size in bytes (got \(bytes.count))", limit: limits.maxBytes)
        }
        var options = BinaryDecodingOptions()
        options.discardUnknownFields = true
        options.messageDepthLimit = 16
        do {
            if let array = bytes as? [UInt8] {
                return try M(serializedBytes: array, options: options)
            }
            return try M(serializedBytes: Array(bytes), options: options)
        } catch let error as BinaryDecodingError {
            throw .malformedProtobuf(detail: Self.describe(error))
        } catch {
            throw .malformedProtobuf(detail: "\(error)")
        }
    }

    private static func describe(_ error: BinaryDecodingError) -> String {
        switch error {
        case .truncated: "the data ends in the middle of a field"
        case .malformedProtobuf: "bad tag, wire type or length"
        case .invalidUTF8: "a string is not valid UTF-8"
        case .messageDepthLimit: "messages are nested too deeply"
        case .missingRequiredFields: "required fields are missing"
        default: "\(error)"
        }
    }
}
