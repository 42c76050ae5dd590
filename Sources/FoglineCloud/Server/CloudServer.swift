import FoglineCore
import FoglineMQTT
import FoglineWire
public import Logging

/// `fogline-cloud serve`: the sync ingest over MQTT and the HTTP API over one ``CloudStore``, until
/// the task running ``run(onListening:)`` is cancelled (SIGTERM/SIGINT in the executable).
public final class CloudServer: Sendable {
    public let configuration: CloudConfiguration
    public let store: any CloudStore
    public let metrics = CloudMetrics()
    private let logger: Logger

    public init(configuration: CloudConfiguration, store: any CloudStore, logger: Logger) {
        self.configuration = configuration
        self.store = store
        var logger = logger
        logger[metadataKey: "instance"] = "\(configuration.instance)"
        self.logger = logger
    }

    /// Runs until cancelled, then disconnects from the broker and closes the store.
    /// `onListening` gets the HTTP port once the server listens.
    public func run(onListening: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        let client = try MQTTClient(configuration: try configuration.mqttConfiguration(), logger: logger)
        let responder = CloudSyncResponder(
            configuration: .init(
                nodeKeys: configuration.nodeKeys, acceptUnsigned: configuration.acceptUnsigned,
                maxPartBytes: configuration.maxPartBytes, maxBatchEntries: configuration.maxBatchEntries),
            batchIDPrefix: UInt32.random(in: 1...UInt32.max))
        let sync = CloudSyncService(store: store, responder: responder, metrics: metrics, logger: logger) { topic, payload in
            try await client.publish(MQTTMessage(topic: topic, payload: payload, qos: .atLeastOnce))
        }
        let writer = CloudWriter(instance: configuration.instance, store: store)
        let api = CloudAPI(
            store: store, writer: writer, metrics: metrics,
            configuredNodes: configuration.nodeKeys.mapValues { $0.keys.sorted() },
            afterWrite: { site in await sync.pushWrites(site: site) })
        let http = CloudHTTPServer(api: api, host: configuration.httpHost, port: configuration.httpPort, logger: logger)
        if configuration.acceptUnsigned {
            logger.warning("sync.accept_unsigned is on: frames from any node are merged unchecked; use it for demos only")
        }
        logger.info("fogline-cloud starting", metadata: [
            "broker": "\(configuration.broker.url)", "subscription": "\(configuration.upFilter)",
            "http": "\(configuration.httpHost):\(configuration.httpPort)", "writer": "\(writer.name)",
        ])
        client.start()
        let filter = configuration.upFilter
        let logger = self.logger
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    try await http.run(onListening: onListening)
                }
                group.addTask {
                    // Remembered by the client and restored after every reconnect.
                    try await client.subscribe(filter, qos: .atLeastOnce)
                    for await event in client.events {
                        logger.info("cloud broker connection", metadata: ["event": "\(event)"])
                    }
                }
                group.addTask {
                    for await message in client.messages {
                        await sync.handle(topic: message.topic, payload: message.payload)
                    }
                }
                // The first task to end (an HTTP bind failure, a cancellation) ends them all.
                try await group.next()
                group.cancelAll()
            }
        } catch {
            await client.disconnect()
            try? await store.close()
            throw error
        }
        await client.disconnect()
        try await store.close()
        logger.info("fogline-cloud stopped")
    }
}
