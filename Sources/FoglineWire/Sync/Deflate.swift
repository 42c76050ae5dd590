import CZlib

/// Raw DEFLATE (RFC 1951, no zlib or gzip header) over zlib: how a large sync batch travels
/// (`COMPRESSION_DEFLATE` in fogline.proto).
public enum Deflate {
    /// `bytes` compressed at zlib's default level.
    public static func compress(_ bytes: [UInt8]) -> [UInt8] {
        var stream = z_stream()
        // windowBits -15: a raw stream with the largest window.
        let started = deflateInit2_(
            &stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION,
            Int32(MemoryLayout<z_stream>.size))
        precondition(started == Z_OK, "zlib refused its own default settings (\(started))")
        defer { deflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, UInt(bytes.count))))
        var input = bytes
        let status = input.withUnsafeMutableBufferPointer { inputBuffer in
            output.withUnsafeMutableBufferPointer { outputBuffer in
                stream.next_in = inputBuffer.baseAddress
                stream.avail_in = UInt32(inputBuffer.count)
                stream.next_out = outputBuffer.baseAddress
                stream.avail_out = UInt32(outputBuffer.count)
                return deflate(&stream, Z_FINISH)
            }
        }
        // deflateBound guarantees room for the whole stream in one call.
        precondition(status == Z_STREAM_END, "deflate did not finish within deflateBound (\(status))")
        output.removeSubrange(Int(stream.total_out)...)
        return output
    }

    /// The bytes `compressed` inflates to; throws when it is not a complete raw DEFLATE stream,
    /// or would inflate past `maxBytes` (a small frame must not become a huge allocation).
    public static func decompress(_ compressed: [UInt8], maxBytes: Int) throws(WireError) -> [UInt8] {
        var stream = z_stream()
        guard inflateInit2_(&stream, -15, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw .malformedProtobuf(detail: "zlib could not start inflating")
        }
        defer { inflateEnd(&stream) }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        var input = compressed
        var status = Z_OK
        input.withUnsafeMutableBufferPointer { inputBuffer in
            stream.next_in = inputBuffer.baseAddress
            stream.avail_in = UInt32(inputBuffer.count)
            while status == Z_OK && output.count <= maxBytes {
                let produced = chunk.withUnsafeMutableBufferPointer { chunkBuffer in
                    stream.next_out = chunkBuffer.baseAddress
                    stream.avail_out = UInt32(chunkBuffer.count)
                    status = inflate(&stream, Z_NO_FLUSH)
                    return chunkBuffer.count - Int(stream.avail_out)
                }
                output += chunk[..<produced]
                if status == Z_OK && produced == 0 && stream.avail_in == 0 { status = Z_BUF_ERROR }
            }
        }
        guard output.count <= maxBytes else { throw .limitExceeded(what: "inflated sync batch bytes", limit: maxBytes) }
        guard status == Z_STREAM_END, stream.avail_in == 0 else {
            throw .malformedProtobuf(detail: "the DEFLATE stream is truncated or corrupt (zlib status \(status))")
        }
        return output
    }
}
