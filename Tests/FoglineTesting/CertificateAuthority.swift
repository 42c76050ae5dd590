public import Foundation

/// A throwaway certificate authority made with the openssl CLI (EC keys: fast to generate), for
/// tests that start Mosquitto with a TLS listener. openssl runs off the cooperative pool.
public struct CertificateAuthority: Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public let command: String
        public let output: String
        public var description: String { "`\(command)` failed:\n\(output)" }
    }

    public let directory: URL
    /// PEM certificate of the CA: what clients trust (`ca_file`, `--ca-file`).
    public let certificate: String
    public let key: String

    /// The openssl CLI, when installed (Debian: openssl).
    public static var openssl: String? {
        ["/usr/bin/openssl", "/usr/local/bin/openssl"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    public init(in directory: URL, name: String) async throws {
        self.directory = directory
        certificate = directory.appendingPathComponent("\(name).crt").path
        key = directory.appendingPathComponent("\(name).key").path
        try await Self.run([
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", key, "-out", certificate, "-days", "2", "-subj", "/CN=Fogline test CA \(name)",
        ])
    }

    /// A server certificate for `ipAddress` (and localhost) signed by this CA; the key is
    /// readable by the broker's user (Mosquitto drops root privileges).
    public func issueServerCertificate(name: String, ipAddress: String) async throws -> (certificate: String, key: String) {
        let key = directory.appendingPathComponent("\(name).key").path
        let request = directory.appendingPathComponent("\(name).csr").path
        let certificate = directory.appendingPathComponent("\(name).crt").path
        let extensions = directory.appendingPathComponent("\(name).ext").path
        try "subjectAltName=IP:\(ipAddress),DNS:localhost\n".write(toFile: extensions, atomically: true, encoding: .utf8)
        try await Self.run([
            "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", key, "-out", request, "-subj", "/CN=\(ipAddress)",
        ])
        try await Self.run([
            "x509", "-req", "-in", request, "-CA", self.certificate, "-CAkey", self.key, "-CAcreateserial",
            "-out", certificate, "-days", "2", "-extfile", extensions,
        ])
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: key)
        return (certificate, key)
    }

    private static func run(_ arguments: [String]) async throws {
        let binary = openssl ?? "openssl"
        let result = await OffPool.run { Result { try ProgramProcess.run(binary, arguments) } }
        let (status, output) = try result.get()
        guard status == 0 else { throw Failure(command: ([binary] + arguments).joined(separator: " "), output: output) }
    }
}
