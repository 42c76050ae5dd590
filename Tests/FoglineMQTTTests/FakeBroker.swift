import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A tiny MQTT 3.1.1/5 "broker" for tests that need to control the broker's side: it accepts
/// one client at a time, answers CONNECT, SUBSCRIBE and PINGREQ, records PUBLISH packets, sends
/// PUBACK only when told to (or at once with `autoAcknowledge`), and can send an MQTT 5
/// DISCONNECT with a reason. A real broker cannot be told to do either.
final class FakeBroker: @unchecked Sendable {
    struct Publish: Sendable, Equatable {
        var topic: String
        var packetID: UInt16
        var isDuplicate: Bool
    }

    private struct State {
        var publishes: [Publish] = []
        var connection: Int32 = -1
        var connections = 0
        var autoAcknowledge: Bool
        var stopped = false
        var protocolLevel: UInt8 = 4
    }

    let port: Int
    private let listener: Int32
    private let state: Mutex<State>
    private let finished = DispatchSemaphore(value: 0)

    init(autoAcknowledge: Bool) throws {
        state = Mutex(State(autoAcknowledge: autoAcknowledge))
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard listener >= 0 else { throw POSIXError(.EMFILE) }
        var yes: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) }
        }
        guard bound == 0, listen(listener, 4) == 0 else {
            close(listener)
            throw POSIXError(.EADDRINUSE)
        }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        self.listener = listener
        port = Int(UInt16(bigEndian: address.sin_port))
        let thread = Thread { [self] in serve() }
        thread.name = "fake-broker"
        thread.start()
    }

    deinit { stop() }

    var publishes: [Publish] { state.withLock { $0.publishes } }
    var connectionCount: Int { state.withLock { $0.connections } }

    func setAutoAcknowledge(_ value: Bool) { state.withLock { $0.autoAcknowledge = value } }

    /// Sends PUBACK for `packetID` on the current connection.
    func acknowledge(_ packetID: UInt16) {
        let connection = state.withLock { $0.connection }
        send(connection, [0x40, 0x02, UInt8(packetID >> 8), UInt8(packetID & 0xFF)])
    }

    /// Sends an MQTT 5 DISCONNECT with `reasonCode` and a reason string property.
    func sendDisconnect(reasonCode: UInt8, reasonString: String) {
        let connection = state.withLock { $0.connection }
        let text = Array(reasonString.utf8)
        let properties: [UInt8] = [0x1F, UInt8(text.count >> 8), UInt8(text.count & 0xFF)] + text
        let body: [UInt8] = [reasonCode, UInt8(properties.count)] + properties
        send(connection, [0xE0, UInt8(body.count)] + body)
    }

    /// Cuts the current connection without a word (like a broker crash).
    func dropCurrentConnection() {
        let connection = state.withLock { $0.connection }
        if connection >= 0 { shutdown(connection, Int32(SHUT_RDWR)) }
    }

    func stop() {
        let alreadyStopped = state.withLock { state -> Bool in
            defer { state.stopped = true }
            return state.stopped
        }
        guard !alreadyStopped else { return }
        shutdown(listener, Int32(SHUT_RDWR))
        dropCurrentConnection()
        finished.wait()
        close(listener)
    }

    private func serve() {
        defer { finished.signal() }
        while !state.withLock({ $0.stopped }) {
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else { return }
            state.withLock {
                $0.connection = connection
                $0.connections += 1
            }
            handle(connection)
            state.withLock { $0.connection = -1 }
            close(connection)
        }
    }

    private func handle(_ connection: Int32) {
        while let (header, body) = readPacket(connection) {
            switch header >> 4 {
            case 1:  // CONNECT: the protocol level follows the 6-byte protocol name.
                let level = body.count > 6 ? body[6] : 4
                state.withLock { $0.protocolLevel = level }
                send(connection, level == 5 ? [0x20, 0x03, 0x00, 0x00, 0x00] : [0x20, 0x02, 0x00, 0x00])
            case 3:  // PUBLISH
                let qos = (header >> 1) & 0x03
                guard body.count >= 2 else { return }
                let topicLength = Int(body[0]) << 8 | Int(body[1])
                guard body.count >= 2 + topicLength else { return }
                let topic = String(decoding: body[2..<(2 + topicLength)], as: UTF8.self)
                var packetID: UInt16 = 0
                if qos > 0, body.count >= 4 + topicLength {
                    packetID = UInt16(body[2 + topicLength]) << 8 | UInt16(body[3 + topicLength])
                }
                let acknowledgeNow = state.withLock { state -> Bool in
                    state.publishes.append(Publish(topic: topic, packetID: packetID, isDuplicate: header & 0x08 != 0))
                    return state.autoAcknowledge
                }
                if qos == 1 && acknowledgeNow { acknowledge(packetID) }
            case 8:  // SUBSCRIBE: grant QoS 1 to its single filter.
                guard body.count >= 2 else { return }
                let isVersion5 = state.withLock { $0.protocolLevel == 5 }
                send(connection, isVersion5 ? [0x90, 0x04, body[0], body[1], 0x00, 0x01] : [0x90, 0x03, body[0], body[1], 0x01])
            case 12:  // PINGREQ
                send(connection, [0xD0, 0x00])
            case 14:  // DISCONNECT
                return
            default:
                break
            }
        }
    }

    private func readPacket(_ connection: Int32) -> (UInt8, [UInt8])? {
        guard let first = readExactly(connection, count: 1)?.first else { return nil }
        var length = 0
        var multiplier = 1
        for _ in 0..<4 {
            guard let byte = readExactly(connection, count: 1)?.first else { return nil }
            length += Int(byte & 0x7F) * multiplier
            multiplier *= 128
            if byte & 0x80 == 0 { break }
        }
        guard let body = readExactly(connection, count: length) else { return nil }
        return (first, body)
    }

    private func readExactly(_ connection: Int32, count: Int) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: count)
        var offset = 0
        while offset < count {
            let received = buffer.withUnsafeMutableBytes { bytes -> Int in
                guard let base = bytes.baseAddress else { return -1 }
                return recv(connection, base + offset, count - offset, 0)
            }
            if received <= 0 { return nil }
            offset += received
        }
        return buffer
    }

    private func send(_ connection: Int32, _ bytes: [UInt8]) {
        guard connection >= 0 else { return }
        _ = bytes.withUnsafeBytes { Glibc.send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }
}
