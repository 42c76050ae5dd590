import FoglineCore

/// What one commit appends to the telemetry journal: its raw readings and ingest rows, as one
/// `journal_segment` row (see ``TelemetryJournal``).
///
/// Why one row: a row per reading and per ingest row (~75 and ~45 bytes with SQLite's record
/// overhead) made every commit write ~25 pages, ~200 bytes per reading, and the checkpoint copied
/// them again. A segment names devices by their `device_name` id and shares metric names, epochs
/// and writers in tables at its start: ~30 bytes per reading plus ~12 per ingest row.
///
/// Layout (format 1; "delta" as in `RawChunk`, to the previous reading):
/// - format byte `1`; the metric names (``MetricNames``); the epochs (count, then ascending, each
///   as the varint difference to the one before); the writers (count, then 8 bytes each);
/// - the readings (count; per reading: flags (bit 0: a device time follows), device id, epoch
///   index, seq, writer index, HLC logical delta, dot counter delta, device time delta (to the
///   previous reading that had one) when flagged, rollup dots, and the metrics);
/// - the ingest rows (count; per row: device id, epoch index, 0 or 1 then `last_seq`, received,
///   duplicates, gaps, and the missing ranges as a length and bytes).
struct JournalSegment: Equatable {
    struct Reading: Equatable {
        var device: Int64
        var epoch: UInt64
        var seq: UInt64
        var reading: RawTelemetry.Reading
        /// How many rollup dots precede the reading's own dot: those rollups are replayed from it
        /// (0: they were written directly).
        var rollupDots: Int
    }

    struct Ingest: Equatable {
        var device: Int64
        var row: IngestRow
    }

    static let formatVersion: UInt8 = 1

    var readings: [Reading] = []
    /// The device names of `ingest` are not encoded: the reader supplies them from the ids.
    var ingest: [Ingest] = []

    /// How many readings carry deferred rollups.
    var deferredReadings: Int { readings.count { $0.rollupDots > 0 } }

    func encode() -> [UInt8] {
        var names = MetricNames()
        var epochs = Set<UInt64>()
        var writers: [UInt64] = []
        var writerIndex: [UInt64: Int] = [:]
        for item in readings {
            names.add(item.reading.values)
            epochs.insert(item.epoch)
            let node = item.reading.stamp.node.rawValue
            if writerIndex[node] == nil {
                writerIndex[node] = writers.count
                writers.append(node)
            }
        }
        for item in ingest { epochs.insert(item.row.epoch) }
        let sortedEpochs = epochs.sorted()
        let epochIndex = Dictionary(uniqueKeysWithValues: sortedEpochs.enumerated().map { ($1, $0) })

        var writer = ByteWriter(capacity: 32 + sortedEpochs.count * 4 + readings.count * 32 + ingest.count * 16)
        writer.byte(Self.formatVersion)
        names.encode(into: &writer)
        writer.varint(UInt64(sortedEpochs.count))
        var previousEpoch: UInt64 = 0
        for epoch in sortedEpochs {
            writer.varint(epoch - previousEpoch)
            previousEpoch = epoch
        }
        writer.varint(UInt64(writers.count))
        for node in writers { writer.word(node) }

        writer.varint(UInt64(readings.count))
        var previous = (logical: UInt64(0), dot: UInt64(0), deviceTime: UInt64(0))
        for item in readings {
            let reading = item.reading
            writer.byte(reading.deviceTime == nil ? 0 : 1)
            writer.varint(UInt64(bitPattern: item.device))
            writer.varint(UInt64(epochIndex[item.epoch]!))
            writer.varint(item.seq)
            writer.varint(UInt64(writerIndex[reading.stamp.node.rawValue]!))
            writer.delta(from: &previous.logical, to: reading.stamp.logical)
            writer.delta(from: &previous.dot, to: reading.dotCounter)
            if let deviceTime = reading.deviceTime { writer.delta(from: &previous.deviceTime, to: UInt64(bitPattern: deviceTime)) }
            writer.varint(UInt64(item.rollupDots))
            names.encode(reading.values, into: &writer)
        }

        writer.varint(UInt64(ingest.count))
        for item in ingest {
            let row = item.row
            writer.varint(UInt64(bitPattern: item.device))
            writer.varint(UInt64(epochIndex[row.epoch]!))
            if let lastSeq = row.lastSeq {
                writer.byte(1)
                writer.varint(lastSeq)
            } else {
                writer.byte(0)
            }
            writer.varint(row.received)
            writer.varint(row.duplicates)
            writer.varint(row.gaps)
            writer.blob(row.missingRanges)
        }
        return writer.bytes
    }

    /// Decodes a blob written by ``encode()``, naming ingest rows with `deviceName` (`nil` for
    /// an id it does not know, which makes the segment unreadable); `nil` if it is damaged.
    /// `keeping`, given a reading's device id and rollup dots, leaves out the readings it refuses
    /// (they are checked, not built).
    static func decode(
        _ blob: UnsafeRawBufferPointer, deviceName: (Int64) -> String?,
        keeping: ((_ device: Int64, _ rollupDots: Int) -> Bool)? = nil
    ) -> JournalSegment? {
        var reader = ByteReader(blob)
        guard reader.byte() == formatVersion, let names = MetricNames.decode(from: &reader), let epochCount = reader.count() else {
            return nil
        }
        var epochs: [UInt64] = []
        epochs.reserveCapacity(epochCount)
        var epoch: UInt64 = 0
        for index in 0..<epochCount {
            guard let step = reader.varint(), index == 0 || step > 0 else { return nil }
            let (sum, overflow) = epoch.addingReportingOverflow(step)
            guard !overflow else { return nil }
            epoch = sum
            epochs.append(epoch)
        }
        guard let writerCount = reader.count() else { return nil }
        var writers: [NodeID] = []
        for _ in 0..<writerCount {
            guard let node = reader.word() else { return nil }
            writers.append(NodeID(rawValue: node))
        }

        var segment = JournalSegment()
        guard let readingCount = reader.count() else { return nil }
        segment.readings.reserveCapacity(readingCount)
        var previous = (logical: UInt64(0), dot: UInt64(0), deviceTime: UInt64(0))
        for _ in 0..<readingCount {
            guard let flags = reader.byte(), flags <= 1, let device = reader.varint(), let epochIndex = reader.varint(),
                epochIndex < UInt64(epochs.count), let seq = reader.varint(), let writerIndex = reader.varint(),
                writerIndex < UInt64(writers.count), reader.delta(onto: &previous.logical), reader.delta(onto: &previous.dot)
            else { return nil }
            var deviceTime: Int64?
            if flags == 1 {
                guard reader.delta(onto: &previous.deviceTime) else { return nil }
                deviceTime = Int64(bitPattern: previous.deviceTime)
            }
            guard let rollupDots = reader.varint(), rollupDots <= UInt64(Int.max) else { return nil }
            if let keeping, !keeping(Int64(bitPattern: device), Int(rollupDots)) {
                guard names.skipValues(from: &reader) else { return nil }
                continue
            }
            guard let values = names.decodeValues(from: &reader) else { return nil }
            segment.readings.append(Reading(
                device: Int64(bitPattern: device), epoch: epochs[Int(epochIndex)], seq: seq,
                reading: RawTelemetry.Reading(
                    values: values, deviceTime: deviceTime,
                    stamp: HLCTimestamp(logical: previous.logical, node: writers[Int(writerIndex)]), dotCounter: previous.dot),
                rollupDots: Int(rollupDots)))
        }

        guard let ingestCount = reader.count() else { return nil }
        for _ in 0..<ingestCount {
            guard let device = reader.varint(), let name = deviceName(Int64(bitPattern: device)),
                let epochIndex = reader.varint(), epochIndex < UInt64(epochs.count), let hasLastSeq = reader.byte(), hasLastSeq <= 1
            else { return nil }
            var lastSeq: UInt64?
            if hasLastSeq == 1 {
                guard let seq = reader.varint() else { return nil }
                lastSeq = seq
            }
            guard let received = reader.varint(), let duplicates = reader.varint(), let gaps = reader.varint(),
                let missing = reader.blob()
            else { return nil }
            segment.ingest.append(Ingest(
                device: Int64(bitPattern: device),
                row: IngestRow(
                    device: name, epoch: epochs[Int(epochIndex)], lastSeq: lastSeq, received: received, duplicates: duplicates,
                    gaps: gaps, missingRanges: missing)))
        }
        return reader.isAtEnd ? segment : nil
    }
}
