import CMosquitto
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Process-wide libmosquitto set-up and the translation of its result codes into
/// ``MQTTClientError`` values.
enum MosquittoLibrary {
    /// `mosquitto_lib_init` is not thread-safe and must run once per process before any
    /// `mosquitto_new`. A global `let` is initialised exactly once, under the runtime's
    /// `swift_once`, the first time it is read, whichever thread reads it first.
    /// `mosquitto_lib_cleanup` is never called: clients may live until the process exits.
    private static let initializationResult: Int32 = mosquitto_lib_init()

    static func ensureInitialized() {
        _ = initializationResult
    }

    static func describe(_ code: Int32) -> String {
        guard let text = mosquitto_strerror(code) else { return "libmosquitto error \(code)" }
        return String(cString: text)
    }

    static func describeErrno(_ value: Int32) -> String {
        switch value {
        case ECONNREFUSED: return "connection refused"
        case ETIMEDOUT: return "the connection timed out"
        case EHOSTUNREACH: return "no route to the host"
        case ENETUNREACH: return "the network is unreachable"
        case ECONNRESET: return "the connection was reset by the broker"
        case EPIPE: return "the broker closed the connection"
        case EMFILE, ENFILE: return "this process has too many open files (raise the open-files limit)"
        default:
            guard let text = strerror(value) else { return "system error \(value)" }
            return String(cString: text).lowercased()
        }
    }

    /// Why a connection attempt failed, from the code a libmosquitto call or callback returned.
    /// `systemError` is `errno` captured right after the call; `libraryDetail` is the last
    /// error libmosquitto logged (it carries OpenSSL's reason for TLS failures).
    static func connectFailure(code: Int32, systemError: Int32, libraryDetail: String?, broker: String) -> MQTTClientError {
        switch code {
        case MOSQ_ERR_ERRNO.rawValue:
            return .connectionFailed(broker: broker, detail: describeErrno(systemError))
        case MOSQ_ERR_EAI.rawValue, MOSQ_ERR_LOOKUP.rawValue:
            return .hostNotFound(broker: broker)
        case MOSQ_ERR_TLS.rawValue, MOSQ_ERR_TLS_HANDSHAKE.rawValue, MOSQ_ERR_OCSP.rawValue:
            return .tlsFailed(broker: broker, detail: libraryDetail ?? describe(code))
        case MOSQ_ERR_CONN_LOST.rawValue, MOSQ_ERR_NO_CONN.rawValue:
            // A plain client talking to a TLS port (or the reverse) ends exactly like this.
            return .connectionFailed(
                broker: broker,
                detail: "the broker closed the connection before answering CONNECT (does the port expect "
                    + "\(broker.hasPrefix("mqtts") ? "plain MQTT" : "TLS, i.e. mqtts://")?)")
        case MOSQ_ERR_PROTOCOL.rawValue, MOSQ_ERR_MALFORMED_PACKET.rawValue:
            return .connectionFailed(broker: broker, detail: "the peer does not speak MQTT as configured (protocol error)")
        case MOSQ_ERR_KEEPALIVE.rawValue:
            return .connectionFailed(broker: broker, detail: "the broker stopped answering")
        case MOSQ_ERR_INVAL.rawValue:
            return .invalidConfiguration("libmosquitto rejected the connection settings for \(broker) (host, port or keepAlive).")
        default:
            return .connectionFailed(broker: broker, detail: libraryDetail ?? describe(code).lowercased())
        }
    }

    /// Why an established connection ended. With MQTT 5, a broker that sends DISCONNECT says
    /// why (session taken over, shutting down, ...): libmosquitto then passes that reason code
    /// (0x80 and up) instead of one of its own error codes, plus an optional reason string.
    static func connectionLoss(
        code: Int32, systemError: Int32, protocolVersion: MQTTProtocolVersion, reasonString: String?, broker: String
    ) -> MQTTClientError {
        let detail: String
        switch code {
        case 0x80... where protocolVersion == .v5:
            let reason = mosquitto_reason_string(code).map { String(cString: $0).lowercased() } ?? "reason code \(code)"
            detail = "the broker disconnected this client: \(reason)" + (reasonString.map { " (\($0))" } ?? "")
        case MOSQ_ERR_SUCCESS.rawValue:
            detail = "the broker disconnected this client"
        case MOSQ_ERR_CONN_LOST.rawValue:
            detail = "the broker closed the connection (broker restart, or another client connected with the same client id)"
        case MOSQ_ERR_KEEPALIVE.rawValue:
            detail = "the broker stopped answering keepalive pings"
        case MOSQ_ERR_ERRNO.rawValue:
            detail = describeErrno(systemError)
        case MOSQ_ERR_PROTOCOL.rawValue, MOSQ_ERR_MALFORMED_PACKET.rawValue:
            detail = "protocol error"
        default:
            detail = describe(code).lowercased()
        }
        return .connectionLost(broker: broker, detail: detail)
    }

    /// The refusal in a CONNACK. MQTT 3.1.1 return codes and MQTT 5 reason codes differ.
    static func connackFailure(code: Int32, protocolVersion: MQTTProtocolVersion, reasonString: String?, broker: String) -> MQTTClientError {
        let extra = reasonString.map { " (\($0))" } ?? ""
        switch protocolVersion {
        case .v311:
            switch code {
            case 1: return .connectionRejected(broker: broker, reason: "it does not accept MQTT 3.1.1" + extra)
            case 2: return .connectionRejected(broker: broker, reason: "it rejected the client id; use a different one" + extra)
            case 3: return .connectionRejected(broker: broker, reason: "the broker is unavailable" + extra)
            case 4: return .notAuthorized(broker: broker, reason: "bad user name or password" + extra)
            case 5: return .notAuthorized(broker: broker, reason: "not authorised" + extra)
            default: return .connectionRejected(broker: broker, reason: "CONNACK return code \(code)" + extra)
            }
        case .v5:
            let text = mosquitto_reason_string(code).map { String(cString: $0) } ?? "reason code \(code)"
            switch code {
            case 0x86: return .notAuthorized(broker: broker, reason: "bad user name or password" + extra)
            case 0x87, 0x8C: return .notAuthorized(broker: broker, reason: text.lowercased() + extra)
            case 0x85: return .connectionRejected(broker: broker, reason: "it rejected the client id; use a different one" + extra)
            default: return .connectionRejected(broker: broker, reason: text.lowercased() + extra)
            }
        }
    }

    /// Reads the MQTT 5 reason string property, if any. libmosquitto hands back a `malloc`ed
    /// copy that the caller must `free()`.
    static func reasonString(in properties: OpaquePointer?) -> String? {
        guard let properties else { return nil }
        var value: UnsafeMutablePointer<CChar>?
        guard mosquitto_property_read_string(properties, Int32(MQTT_PROP_REASON_STRING.rawValue), &value, false) != nil,
            let value
        else { return nil }
        defer { free(value) }
        return String(cString: value)
    }
}
