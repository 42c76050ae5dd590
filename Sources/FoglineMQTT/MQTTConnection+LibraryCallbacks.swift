import CMosquitto

/// The libmosquitto callbacks of a connection: C function pointers that capture nothing and
/// find their ``MQTTConnection`` through the context pointer (`mosquitto_user_data_set`). They
/// run on the event loop's thread, inside `mosquitto_loop_read`/`_write`/`_misc`, and must not
/// block: each copies what it needs and hands over to the connection.
extension MQTTConnection {
    /// "OpenSSL Error[0]: error:0A000086:SSL routines::certificate verify failed" → "certificate verify failed".
    static func openSSLReason(in text: String) -> String {
        let characters = Array(text)
        var index = characters.count - 1
        while index > 0 {
            if characters[index] == ":" && characters[index - 1] == ":" {
                let reason = String(characters[(index + 1)...])
                return reason.isEmpty ? text : reason
            }
            index -= 1
        }
        return text
    }

    func installCallbacks(_ handle: OpaquePointer, forwardLibraryLog: Bool) {
        // The closures capture nothing (they are C function pointers); the connection comes
        // back through the context pointer set with mosquitto_user_data_set.
        mosquitto_connect_v5_callback_set(handle) { _, context, code, flags, properties in
            connection(from: context)?.libraryDidConnect(code: code, flags: flags, properties: properties)
        }
        mosquitto_disconnect_v5_callback_set(handle) { _, context, code, properties in
            connection(from: context)?.libraryDidDisconnect(code: code, properties: properties)
        }
        mosquitto_publish_v5_callback_set(handle) { _, context, mid, reasonCode, _ in
            connection(from: context)?.libraryDidPublish(mid: mid, reasonCode: reasonCode)
        }
        mosquitto_message_v5_callback_set(handle) { _, context, message, _ in
            guard let connection = connection(from: context), let message else { return }
            // Copy topic and payload now: libmosquitto frees them when the callback returns.
            let raw = message.pointee
            let topic = raw.topic.map { String(cString: $0) } ?? ""
            var payload: [UInt8] = []
            if let bytes = raw.payload, raw.payloadlen > 0 {
                payload = Array(UnsafeRawBufferPointer(start: bytes, count: Int(raw.payloadlen)))
            }
            let qos = MQTTQoS(rawValue: raw.qos) ?? .atMostOnce
            connection.libraryDidReceive(MQTTMessage(topic: topic, payload: payload, qos: qos, retain: raw.retain))
        }
        mosquitto_subscribe_v5_callback_set(handle) { _, context, mid, count, granted, _ in
            var codes: [Int32] = []
            if let granted, count > 0 { codes = Array(UnsafeBufferPointer(start: granted, count: Int(count))) }
            connection(from: context)?.libraryDidSubscribe(mid: mid, grantedCodes: codes)
        }
        mosquitto_unsubscribe_v5_callback_set(handle) { _, context, mid, _ in
            connection(from: context)?.libraryDidUnsubscribe(mid: mid)
        }
        if forwardLibraryLog {
            mosquitto_log_callback_set(handle) { _, context, level, text in
                guard let text else { return }
                connection(from: context)?.libraryDidLog(level: level, text: String(cString: text))
            }
        }
    }
}

private func connection(from context: UnsafeMutableRawPointer?) -> MQTTConnection? {
    guard let context else { return nil }
    return Unmanaged<MQTTConnection>.fromOpaque(context).takeUnretainedValue()
}
