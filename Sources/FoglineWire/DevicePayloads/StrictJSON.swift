/// The strict JSON parser for device payloads.
///
/// It accepts exactly the RFC 8259 grammar and rejects, with a ``PayloadRejection``:
///
/// - payloads larger than ``JSONLimits/maxBytes`` (`oversized`), checked first;
/// - invalid UTF-8 anywhere: overlong forms, encoded surrogates, code points above
///   U+10FFFF, stray or truncated sequences (`invalid_utf8`);
/// - anything outside the grammar (`invalid_json`): trailing data after the value, a byte
///   order mark, leading zeros (`01`), `NaN`/`Infinity`, `+1`, `.5`, `1.`, trailing commas,
///   comments, single quotes, unescaped control characters in strings, unknown escapes,
///   `\u` escapes of lone surrogates, whitespace other than space, tab, LF and CR;
/// - an object that repeats a key (`duplicate_key`). Keys are compared after unescaping,
///   as Swift strings, so `{"a":1,"\u0061":2}` repeats `a`; so do two spellings Swift treats
///   as the same string (`"é"` precomposed and decomposed), since downstream code keys
///   dictionaries by them;
/// - nesting deeper than ``JSONLimits/maxDepth`` (`too_deep`);
/// - numbers that do not fit a double, such as `1e400` (`out_of_range`). Numbers too small
///   to represent (`1e-400`) read as zero, as in every IEEE 754 parser.
///
/// The parser never recurses (nesting lives on an explicit stack), never traps on any
/// input, and does no per-byte allocation: strings without escapes are built straight
/// from the payload's UTF-8 bytes.
public enum StrictJSON {
    /// Parses one JSON value (of any kind; RFC 8259 allows a bare scalar) from `bytes`.
    public static func parse(
        _ bytes: some Collection<UInt8>,
        limits: JSONLimits = .default
    ) throws(PayloadRejection) -> JSONValue {
        let byteCount = bytes.count
        guard byteCount <= limits.maxBytes else {
            throw .oversized(byteCount: byteCount, limit: limits.maxBytes)
        }
        let contiguousResult = bytes.withContiguousStorageIfAvailable { buffer in
            Result { () throws(PayloadRejection) in try parse(buffer: buffer, limits: limits) }
        }
        if let contiguousResult {
            return try contiguousResult.get()
        }
        let copy = Array(bytes)
        return try copy.withUnsafeBufferPointer { buffer in
            Result { () throws(PayloadRejection) in try parse(buffer: buffer, limits: limits) }
        }.get()
    }

    /// Parses one JSON value from the UTF-8 of `text`.
    public static func parse(_ text: String, limits: JSONLimits = .default) throws(PayloadRejection) -> JSONValue {
        try parse(text.utf8, limits: limits)
    }

    /// Parses from contiguous bytes that are already known to be within `limits.maxBytes`.
    static func parse(buffer: UnsafeBufferPointer<UInt8>, limits: JSONLimits) throws(PayloadRejection) -> JSONValue {
        if let offset = UTF8Validation.firstInvalidOffset(in: buffer) {
            throw .invalidUTF8(offset: offset)
        }
        var parser = StrictJSONParser(bytes: buffer, maxDepth: limits.maxDepth)
        return try parser.parseDocument()
    }
}
