/// The parts of a broker URL (`mqtt://HOST:PORT`, `mqtts://HOST:PORT`, IPv6 in brackets).
public struct BrokerAddress: Hashable, Sendable {
    public var host: String
    public var port: Int
    public var usesTLS: Bool

    public init(parsing text: String) throws(MQTTClientError) {
        func invalid(_ why: String) -> MQTTClientError {
            .invalidConfiguration("the broker URL \"\(text)\" \(why). Use mqtt://HOST:PORT or mqtts://HOST:PORT.")
        }
        guard let colon = text.firstIndex(of: ":"), text[colon...].hasPrefix("://") else { throw invalid("has no scheme") }
        let scheme = text[..<colon].lowercased()
        switch scheme {
        case "mqtt", "tcp": usesTLS = false
        case "mqtts", "ssl", "tls": usesTLS = true
        default: throw invalid("has the unknown scheme \"\(scheme)\"")
        }
        var rest = text[text.index(colon, offsetBy: 3)...]
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        if rest.contains("@") { throw invalid("contains credentials; pass them as username and password instead") }
        if rest.contains("/") || rest.contains("?") { throw invalid("has a path or query") }
        var portText: Substring?
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { throw invalid("has an unterminated IPv6 address") }
            host = String(rest[rest.index(after: rest.startIndex)..<close])
            let after = rest[rest.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw invalid("has text after the IPv6 address") }
                portText = after.dropFirst()
            }
        } else if let colon = rest.lastIndex(of: ":") {
            host = String(rest[..<colon])
            portText = rest[rest.index(after: colon)...]
        } else {
            host = String(rest)
        }
        if host.isEmpty { throw invalid("has no host") }
        if let portText {
            guard let value = Int(portText), (1...65_535).contains(value) else { throw invalid("has an invalid port") }
            port = value
        } else {
            port = usesTLS ? 8883 : 1883
        }
    }
}
