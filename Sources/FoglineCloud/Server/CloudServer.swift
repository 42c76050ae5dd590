import FoglineCore
import FoglineMQTT
import FoglineWire
public import Logging
import ServiceLifecycle

/// `fogline-cloud serve`: the sync ingest over MQTT and the HTTP API over one ``CloudStore``.
public final class CloudServer: Sendable {
    public let configuration: CloudConfiguration
    public let store: any CloudStore
    public let metrics = CloudMetrics()
    private let logger: Logger

    /// A server of `configuration` over `store` (opened by the caller, e.g. with
    /// ``CloudConfiguration/openStore(logger:)``; closed when ``run(handleSignals:onListening:)`` ends).
    public init(configuration: CloudConfiguration, store: any CloudStore, logger: Logger) {
        self.configuration = configuration
        self.store = store
        var logger = logger
        logger[metadataKey: "instance"] = "\(configuration.instance)"
        self.logger = logger
    }

    /// Runs until SIGTERM or SIGINT (when `handleSignals`), a cancellation of the calling task, or
    /// a part failing (the HTTP port taken, say); then shuts down gracefully: the ingest stops
    /// taking frames (the batches queued are merged and acknowledged), HTTP requests in progress finish, the broker
    /// connection closes and the store is closed. `onListening` gets the HTTP port once it listens.
    public func run(handleSignals: Bool = false, onListening: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
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
        let http = CloudHTTPServer(
            api: api, host: configuration.httpHost, port: configuration.httpPort, token: try configuration.bearerToken(), logger: logger)
        if configuration.acceptUnsigned {
            logger.warning("sync.accept_unsigned is on: frames from any node are merged unchecked; use it for demos only")
        }
        logger.info("fogline-cloud starting", metadata: [
            "broker": "\(configuration.broker.url)", "subscription": "\(configuration.upFilter)",
            "http": "\(configuration.httpHost):\(configuration.httpPort)", "writer": "\(writer.name)",
        ])
        let ingest = SyncIngest(client: client, sync: sync, filter: configuration.upFilter, logger: logger)
        // Shut down in reverse order: the ingest first, then HTTP.
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: http.application(onListening: onListening)), .init(service: ingest)],
            gracefulShutdownSignals: handleSignals ? [.sigterm, .sigint] : [],
            logger: logger))
        do {
            try await group.run()
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

/// Takes frames from the `up` topics to the sync service until a graceful shutdown.
private struct SyncIngest: Service {
    let client: MQTTClient
    let sync: CloudSyncService
    let filter: String
    let logger: Logger

    func run() async throws {
        client.start()
        // Remembered by the client and restored after every reconnect.
        try await client.subscribe(filter, qos: .atLeastOnce)
        let events = Task { [client, logger] in
            for await event in client.events {
                logger.info("cloud broker connection", metadata: ["event": "\(event)"])
            }
        }
        defer { events.cancel() }
        for await message in client.messages.cancelOnGracefulShutdown() {
            await sync.handle(topic: message.topic, payload: message.payload)
        }
        // Commit and acknowledge the batches already queued before the connection goes.
        await sync.mergeQueued()
        await client.disconnect()
    }
}
