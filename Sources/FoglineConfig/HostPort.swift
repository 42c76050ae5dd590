/// `HOST:PORT` addresses in configuration files and flags.
public enum HostPort {
    /// `HOST:PORT` with an optional default port; IPv6 hosts in brackets; or why not.
    public static func endpoint(_ text: String, defaultPort: Int? = nil) -> Result<(host: String, port: Int), ValueProblem> {
        var host = Substring(text)
        var portText: Substring?
        if host.hasPrefix("["), let close = host.firstIndex(of: "]") {
            let after = host[host.index(after: close)...]
            portText = after.hasPrefix(":") ? after.dropFirst() : nil
            host = host[host.index(after: host.startIndex)..<close]
        } else if let colon = host.lastIndex(of: ":") {
            portText = host[host.index(after: colon)...]
            host = host[..<colon]
        }
        guard !host.isEmpty else { return .failure(ValueProblem("`\(text)` has no host; write HOST:PORT, e.g. 127.0.0.1:8080")) }
        if portText == nil && defaultPort == nil {
            return .failure(ValueProblem("`\(text)` needs a port: write HOST:PORT, e.g. 127.0.0.1:8080"))
        }
        let port = portText.map { Int($0) } ?? defaultPort
        guard let port, (1...65_535).contains(port) else {
            return .failure(ValueProblem("`\(text)` has an invalid port; use 1–65535"))
        }
        return .success((String(host), port))
    }
}
