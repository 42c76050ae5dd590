extension MQTTMultiplexer {
    /// One client of a multiplexer. Its methods (other than ``clientID``) must be called on the
    /// multiplexer's thread — from a handler, or from work passed to `schedule`/`execute` —
    /// and trap elsewhere, as a data race would be worse.
    public struct ClientHandle: Sendable, Hashable {
        let connection: MQTTConnection

        public var clientID: String { connection.configuration.clientID }

        public var isConnected: Bool {
            connection.loop.preconditionInLoopThread()
            return connection.isConnected
        }

        /// Publishes `message` and returns its mid (matched by a later
        /// ``MQTTMultiplexerEvent/published(mid:)``), or nil when it was not sent: not connected
        /// (QoS 1/2 are never queued while disconnected, so nothing is duplicated later),
        /// invalid topic, or oversized payload.
        @discardableResult
        public func publish(_ message: MQTTMessage) -> Int32? {
            connection.loop.preconditionInLoopThread()
            guard (try? MQTTTopic.validateTopicName(message.topic)) != nil else { return nil }
            switch connection.publish(message) {
            case .accepted(let mid): return mid
            case .refused: return nil
            }
        }

        /// Subscribes now if connected, and after every (re)connect. Returns false when the
        /// filter is invalid.
        @discardableResult
        public func subscribe(_ filter: String, qos: MQTTQoS = .atLeastOnce) -> Bool {
            connection.loop.preconditionInLoopThread()
            guard (try? MQTTTopic.validateTopicFilter(filter)) != nil else { return false }
            if case .refused = connection.subscribe(filter, qos: qos) { return false }
            return true
        }

        /// Unsubscribes and forgets the filter.
        public func unsubscribe(_ filter: String) {
            connection.loop.preconditionInLoopThread()
            _ = connection.unsubscribe(filter)
        }

        /// Fault injection: closes the socket without DISCONNECT, like a crash or a cut cable,
        /// so the broker publishes the client's will. The client reconnects with its backoff,
        /// and not before `reconnectAfter` when given (an outage of that length).
        public func dropConnection(reconnectAfter: Duration? = nil) {
            connection.loop.preconditionInLoopThread()
            connection.dropConnection(reconnectAfter: reconnectAfter)
        }

        /// Sends DISCONNECT (no will) and stays disconnected until ``reconnect()``.
        public func disconnect() {
            connection.loop.preconditionInLoopThread()
            connection.disconnect {}
        }

        /// Connects again after ``disconnect()``.
        public func reconnect() {
            connection.loop.preconditionInLoopThread()
            connection.connect()
        }

        /// Disconnects cleanly and frees the client; the handle must not be used afterwards.
        public func remove() {
            connection.loop.preconditionInLoopThread()
            let connection = self.connection
            connection.disconnect { [loop = connection.loop] in
                loop.runOnNextTurn { connection.destroy() }
            }
        }

        public static func == (lhs: ClientHandle, rhs: ClientHandle) -> Bool { lhs.connection === rhs.connection }

        public func hash(into hasher: inout Hasher) { hasher.combine(ObjectIdentifier(connection)) }
    }
}
